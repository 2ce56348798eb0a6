"""`python -m bot` runs the `quartierbot` command."""

import sys

from bot.cli import main

sys.exit(main())
