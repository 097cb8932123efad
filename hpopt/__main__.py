"""``python -m hpopt``: the ``hpopt`` command."""

import sys

from hpopt.cli import main

if __name__ == "__main__":
    sys.exit(main())
