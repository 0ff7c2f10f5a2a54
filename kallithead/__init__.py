"""kallithead: Mercurial and Git hosting that speaks the Kallithea JSON-RPC API."""

__version__ = "0.1.0"

# The Kallithea release whose API this server reproduces; reported by
# get_server_info as ``kallithea_version`` so that clients that branch on the
# version keep taking the 0.7 code paths.
KALLITHEA_API_VERSION = "0.7.0"
