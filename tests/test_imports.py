"""Architecture guard: every hpopt module imports on its own in a fresh interpreter with -W error.

Importing each module first, alone, is what exposes an import cycle (it depends on which module of
the cycle is imported first) and any warning raised at import time.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import pytest

import hpopt

MODULES = sorted(m.name for m in pkgutil.walk_packages(hpopt.__path__, "hpopt."))

# A bare interpreter forks once per module, so each child imports its module first, into an empty
# sys.modules, without paying the interpreter's start-up per module.
_DRIVER = textwrap.dedent("""
    import os, sys, traceback
    # hpopt's core dependencies are loaded once, before forking: the children then pay only for
    # hpopt's own modules, whose import order is what this test is about.
    import attrs, numpy, pluggy, scipy.linalg, scipy.special, scipy.stats
    failures = []
    for name in sys.argv[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                __import__(name)
            except BaseException:
                os.write(w, traceback.format_exc().encode())
                code = 1
            os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status:
            failures.append(name + ":\\n" + b"".join(chunks).decode())
    print("\\n".join(failures))
    sys.exit(1 if failures else 0)
""")


@pytest.mark.slow
def test_every_module_imports_alone_without_warnings() -> None:
    """Each hpopt module imports first and alone, with warnings as errors (no cycles, no warnings)."""
    assert "hpopt.testing" in MODULES and "hpopt.study" in MODULES
    out = subprocess.run([sys.executable, "-W", "error", "-c", _DRIVER, *MODULES],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_public_api_is_exported() -> None:
    """Every name in hpopt.__all__ exists, and hpopt.testing exports its batteries."""
    import hpopt.testing

    assert all(hasattr(hpopt, name) for name in hpopt.__all__)
    exported = set(hpopt.testing.__all__)
    assert {"check_sampler", "check_storage", "sampler_checks", "storage_checks"} <= exported
