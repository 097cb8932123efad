"""Plugin discovery: entry points, run-time registration, duplicates, broken plugins, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hpopt
from hpopt import plugins
from hpopt.testing import check_sampler

_PLUGIN_SOURCE = '''
import hpopt


class {cls}(hpopt.Sampler):
    """Always the middle of the internal range: a ten-line third-party sampler."""

    def __init__(self, *, seed=None, offset=0.5):
        self.offset = offset

    def sample(self, history, trial, name, distribution):
        lo, hi = distribution.internal_bounds
        return distribution.from_internal(lo + self.offset * (hi - lo))


@hpopt.hookimpl
def hpopt_samplers():
    return {{{names}}}
'''


def _make_distribution(root: Path, dist: str, version: str, module: str, source: str) -> None:
    """Write ``module.py`` and a ``dist-version.dist-info`` declaring it in entry-point group hpopt."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"  # wheel naming: no dash in the name
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[hpopt]\n{module} = {module}\n")


def _sampler_plugin(root: Path, dist: str, version: str, module: str, names: list[str]) -> None:
    cls = f"Mid{module.title().replace('_', '')}"
    source = _PLUGIN_SOURCE.format(cls=cls, names=", ".join(f"{n!r}: {cls}" for n in names))
    _make_distribution(root, dist, version, module, source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway site directory on sys.path; the plugin registry is rebuilt before and after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("HPOPT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("HPOPT_BLOCK_PLUGINS", raising=False)
    plugins.reload_plugins()
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[module]
    monkeypatch.undo()
    plugins.reload_plugins()


def test_entry_point_plugin_found_by_name(site: Path) -> None:
    """A sampler in an installed distribution's entry point is found by name with its version."""
    _sampler_plugin(site, "hpopt-mid", "1.2.3", "tp_mid", ["mid"])
    plugins.reload_plugins()
    provider = hpopt.available_samplers()["mid"]
    assert (provider.distribution, provider.version, provider.plugin) == ("hpopt-mid", "1.2.3", "tp_mid")
    study = hpopt.create_study(sampler="mid")
    assert study.ask().suggest_float("x", 0.0, 2.0) == 1.0
    assert hpopt.make_sampler("mid", offset=0.0).offset == 0.0
    assert "random" in hpopt.available_samplers()


def test_third_party_sampler_gets_the_battery(site: Path) -> None:
    """A third-party sampler found by name passes check_sampler (reproducible: it is deterministic,
    which it declares: different seeds give the same values)."""
    _sampler_plugin(site, "hpopt-mid", "1.0", "tp_mid", ["mid"])
    plugins.reload_plugins()
    check_sampler(lambda *, seed: hpopt.make_sampler("mid", seed=seed),
                  expected_failures={"seed_changes_values": "deterministic: always the middle of the range"})


def test_name_claimed_twice(site: Path) -> None:
    """A name claimed by two plugins is a PluginError naming both providers."""
    _sampler_plugin(site, "hpopt-one", "1.0", "tp_one", ["dup"])
    _sampler_plugin(site, "hpopt-two", "2.0", "tp_two", ["dup"])
    plugins.reload_plugins()
    with pytest.raises(hpopt.PluginError) as info:
        hpopt.available_samplers()
    message = str(info.value)
    assert "'dup'" in message and "hpopt-one 1.0" in message and "hpopt-two 2.0" in message


def test_builtin_name_claimed_again(site: Path) -> None:
    """A plugin claiming a built-in name is a PluginError naming hpopt and the plugin."""
    _sampler_plugin(site, "hpopt-evil", "0.1", "tp_evil", ["random"])
    plugins.reload_plugins()
    with pytest.raises(hpopt.PluginError, match=r"'random'.*hpopt 0\.1\.0.*hpopt-evil 0\.1"):
        hpopt.make_sampler("random")


def test_broken_plugin_warns_and_others_load(site: Path) -> None:
    """A plugin whose import fails gives a PluginLoadWarning naming it; the others still load."""
    _make_distribution(site, "hpopt-broken", "0.9", "tp_broken", "raise ImportError('no numpy 3')\n")
    _sampler_plugin(site, "hpopt-mid", "1.0", "tp_mid", ["mid"])
    plugins.reload_plugins()
    with pytest.warns(hpopt.PluginLoadWarning, match=r"'tp_broken'.*hpopt-broken 0\.9.*no numpy 3"):
        names = hpopt.available_samplers()
    assert {"mid", "random", "grid"} <= set(names)
    assert "tp_broken" in plugins.failed_plugins()


def test_malformed_hook_result(site: Path) -> None:
    """A hook returning something other than a dict is a PluginError naming the plugin."""
    source = "import hpopt\n\n@hpopt.hookimpl\ndef hpopt_samplers():\n    return ['x']\n"
    _make_distribution(site, "hpopt-bad", "1.0", "tp_bad", source)
    plugins.reload_plugins()
    with pytest.raises(hpopt.PluginError, match="tp_bad"):
        hpopt.available_samplers()


def test_disable_autoload_and_block(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HPOPT_DISABLE_PLUGIN_AUTOLOAD skips entry points; HPOPT_BLOCK_PLUGINS blocks one by name."""
    _sampler_plugin(site, "hpopt-mid", "1.0", "tp_mid", ["mid"])
    _sampler_plugin(site, "hpopt-other", "1.0", "tp_other", ["other"])
    monkeypatch.setenv("HPOPT_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins.reload_plugins()
    assert "mid" not in hpopt.available_samplers() and "random" in hpopt.available_samplers()
    monkeypatch.delenv("HPOPT_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("HPOPT_BLOCK_PLUGINS", "tp_mid")
    plugins.reload_plugins()
    assert "mid" not in hpopt.available_samplers() and "other" in hpopt.available_samplers()


def test_blocking_the_builtin_plugin_is_ignored_with_a_warning(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HPOPT_BLOCK_PLUGINS=hpopt left no sampler at all, silently; the other names still block."""
    _sampler_plugin(site, "hpopt-mid", "1.0", "tp_mid", ["mid"])
    monkeypatch.setenv("HPOPT_BLOCK_PLUGINS", "hpopt, tp_mid")
    with pytest.warns(hpopt.PluginLoadWarning, match="'hpopt'.*cannot be blocked"):
        plugins.reload_plugins()
        samplers = hpopt.available_samplers()
    assert "random" in samplers and "tpe" in samplers and "mid" not in samplers


class _RuntimePlugin:
    """A plugin object registered at run time."""

    @hpopt.hookimpl
    def hpopt_samplers(self) -> dict[str, Any]:
        return {"lowest": _Lowest}


class _Lowest(hpopt.Sampler):
    """The lower bound (first choice) every time."""

    def __init__(self, *, seed: Any = None) -> None:
        pass

    def sample(self, history: Any, trial: Any, name: str, distribution: Any) -> Any:
        return distribution.from_internal(distribution.internal_bounds[0])


def test_register_at_run_time() -> None:
    """plugins.register adds a sampler by name; unregister removes it."""
    plugin = _RuntimePlugin()
    plugins.register(plugin, name="runtime-test")
    try:
        assert hpopt.available_samplers()["lowest"].distribution == "(registered at run time)"
        assert hpopt.create_study(sampler="lowest").ask().suggest_int("n", 3, 9) == 3
    finally:
        plugins.unregister(plugin)
    assert "lowest" not in hpopt.available_samplers()


def test_unknown_name_lists_available() -> None:
    """make_sampler of an unknown name is a PluginError listing the registered names."""
    with pytest.raises(hpopt.PluginError, match=r"'nope'.*'random'"):
        hpopt.make_sampler("nope")


def test_bad_settings_name_the_sampler() -> None:
    """Settings a sampler does not take are a TypeError naming the sampler and its provider."""
    with pytest.raises(TypeError, match=r"'random' \(hpopt\)"):
        hpopt.make_sampler("random", speed=3)


def test_builtins_registered_through_the_registry() -> None:
    """The built-in samplers come from plugin 'hpopt' with hpopt's version."""
    table = hpopt.available_samplers()
    assert {"random", "grid"} <= set(table)
    for name in ("random", "grid"):
        assert (table[name].plugin, table[name].version) == ("hpopt", hpopt.__version__)
    assert "nop" in hpopt.available_pruners()


def test_cli_lists_plugins_with_distribution_and_version(tmp_path: Path) -> None:
    """`hpopt plugins` lists every sampler with its distribution and version, third-party included."""
    _sampler_plugin(tmp_path, "hpopt-mid", "1.2.3", "tp_mid", ["mid"])
    _make_distribution(tmp_path, "hpopt-broken", "0.9", "tp_broken", "raise ImportError('boom')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("HPOPT_DISABLE_PLUGIN_AUTOLOAD", None)
    code = "import sys, hpopt.cli; sys.exit(hpopt.cli.main(['plugins']))"
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line.split()[1:3] for line in out.stdout.splitlines() if line.startswith("  ")}
    assert lines["mid"] == ["hpopt-mid", "1.2.3"]
    assert lines["random"] == ["hpopt", hpopt.__version__]
    assert "samplers:" in out.stdout and "pruners:" in out.stdout
    assert "tp_broken" in out.stderr and "boom" in out.stderr


def test_cli_kind_filter() -> None:
    """`hpopt plugins --kind samplers` lists samplers only."""
    code = "import sys, hpopt.cli; sys.exit(hpopt.cli.main(['plugins', '--kind', 'samplers']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "samplers:" in out.stdout and "pruners:" not in out.stdout


def test_no_warning_on_import() -> None:
    """Listing the plugins of a clean installation emits no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plugins.reload_plugins()
        hpopt.available_samplers()


