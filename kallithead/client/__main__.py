"""``python -m kallithead.client``: the ``kallithea-api`` command."""

import sys

from kallithead.client.cli import main

sys.exit(main())
