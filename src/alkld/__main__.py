"""``python -m alkld``: the command line."""

import sys

from alkld.cli import main

sys.exit(main())
