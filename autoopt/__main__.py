"""``python -m autoopt`` runs the command line."""

import sys

from autoopt.cli import main

sys.exit(main())
