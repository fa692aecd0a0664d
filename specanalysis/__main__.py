"""``python -m specanalysis`` runs the command line."""

import sys

from specanalysis.cli import main

sys.exit(main())
