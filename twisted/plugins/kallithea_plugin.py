"""The twistd plugin: ``twistd kallithea`` runs kallithead."""

from twisted.application.service import ServiceMaker

kallithea = ServiceMaker(
    "kallithead",
    "kallithead.tap",
    "Mercurial and Git hosting with the Kallithea JSON-RPC API",
    "kallithea",
)
