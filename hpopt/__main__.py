"""``python -m hpopt``: the ``hpopt`` command."""

import sys

from hpopt.cli import main

sys.exit(main())
