"""``python -m specanalysis`` runs the command line."""

import sys

from specanalysis.cli import main

if __name__ == "__main__":
    sys.exit(main())
