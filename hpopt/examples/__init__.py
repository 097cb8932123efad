"""Runnable examples: ``python -m hpopt.examples.ridge`` (needs the ``examples`` extra)."""
