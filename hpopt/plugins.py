"""Plugin discovery with pluggy: samplers, pruners, storage URL schemes and benchmark problems.

A plugin is any module or object implementing some of the hooks in :class:`HookSpecs` with the
:data:`hookimpl` marker. hpopt's own samplers are registered by the very same ``register`` call as
third-party ones, which are found through the entry-point group ``hpopt``::

    # pyproject.toml of a plugin distribution
    [project.entry-points.hpopt]
    qmc = "hpopt_qmc.plugin"

    # hpopt_qmc/plugin.py
    import hpopt

    @hpopt.hookimpl
    def hpopt_samplers():
        return {"qmc": QMCSampler}

Rules: a name claimed by two plugins is a :class:`~hpopt.PluginError` naming both; a plugin that
fails to import is reported with a :class:`~hpopt.PluginLoadWarning` naming it, and the others still
load. ``HPOPT_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points; ``HPOPT_BLOCK_PLUGINS=a,b`` blocks
plugins by entry-point name (not ``hpopt``, the built-ins: that name is ignored with a warning).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import attrs
import pluggy

from hpopt.errors import PluginError, PluginLoadWarning

__all__ = [
    "hookimpl", "hookspec", "HookSpecs", "Provider", "available_samplers", "available_pruners",
    "available_problems", "make_sampler", "make_pruner", "storage_factory", "reload_plugins",
]

PROJECT = "hpopt"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
_KINDS = ("samplers", "pruners", "storages", "problems")


class HookSpecs:
    """The hooks a plugin may implement (each returns a dict; all are optional)."""

    @hookspec
    def hpopt_samplers(self) -> dict[str, Callable[..., Any]]:
        """Return ``{name: factory}``; ``factory(**settings)`` builds an :class:`hpopt.Sampler`."""

    @hookspec
    def hpopt_pruners(self) -> dict[str, Callable[..., Any]]:
        """Return ``{name: factory}``; ``factory(**settings)`` builds an :class:`hpopt.Pruner`."""

    @hookspec
    def hpopt_storages(self) -> dict[str, Callable[[str], Any]]:
        """Return ``{url_scheme: factory}``; ``factory(url)`` builds a journal backend."""

    @hookspec
    def hpopt_problems(self) -> dict[str, Any]:
        """Return ``{name: problem}`` for :mod:`hpopt.benchmark`."""


@attrs.frozen
class Provider:
    """One registered name and where it comes from."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str
    version: str


class _Registry:
    def __init__(self) -> None:
        from hpopt import __version__, builtin

        pm = pluggy.PluginManager(PROJECT)
        pm.add_hookspecs(HookSpecs)
        blocked = [n.strip() for n in os.environ.get("HPOPT_BLOCK_PLUGINS", "").split(",") if n.strip()]
        if "hpopt" in blocked:  # blocking it left no sampler at all, without a word
            warnings.warn(
                "HPOPT_BLOCK_PLUGINS names 'hpopt', hpopt's built-in samplers, pruners and problems; "
                "they cannot be blocked, so that name is ignored (block third-party plugins by their "
                "entry-point names).",
                PluginLoadWarning,
                stacklevel=4,
            )
            blocked = [n for n in blocked if n != "hpopt"]
        for name in blocked:
            pm.set_blocked(name)
        self.origin: dict[str, tuple[str, str]] = {}
        self.failed: dict[str, str] = {}
        pm.register(builtin, name="hpopt")
        self.origin["hpopt"] = ("hpopt", __version__)
        if os.environ.get("HPOPT_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes"):
            loaded: dict[str, str] = {}  # entry-point name -> the module it loaded
            for ep in entry_points(group=PROJECT):
                if pm.is_blocked(ep.name):
                    continue
                dist = getattr(ep, "dist", None)
                origin = (dist.name, dist.version) if dist is not None else ("?", "?")
                if pm.get_plugin(ep.name) is not None:
                    if loaded.get(ep.name) == ep.value:
                        continue  # the same entry point seen twice (its distribution is on sys.path twice)
                    # Another distribution took the name first: say so, instead of dropping this one.
                    owner = self.origin.get(ep.name, ("?", "?"))
                    reason = (f"the entry-point name {ep.name!r} is already taken by {owner[0]} {owner[1]}; "
                              "one of the two distributions must use another entry-point name")
                    self.failed[f"{ep.name} ({origin[0]})"] = reason
                    warnings.warn(
                        f"hpopt plugin {ep.name!r} from {origin[0]} {origin[1]} was skipped: {reason}.",
                        PluginLoadWarning,
                        stacklevel=4,
                    )
                    continue
                try:
                    plugin = ep.load()
                    pm.register(plugin, name=ep.name)
                except Exception as exc:  # noqa: BLE001  (a broken plugin must not break hpopt)
                    self.failed[ep.name] = f"{type(exc).__name__}: {exc}"
                    warnings.warn(
                        f"hpopt plugin {ep.name!r} from {origin[0]} {origin[1]} failed to load and "
                        f"was skipped: {type(exc).__name__}: {exc}",
                        PluginLoadWarning,
                        stacklevel=4,
                    )
                    continue
                self.origin[ep.name] = origin
                loaded[ep.name] = ep.value
        self.pm = pm
        self.tables: dict[str, dict[str, Provider]] = {}

    def table(self, kind: str) -> dict[str, Provider]:
        table = self.tables.get(kind)
        if table is not None:
            return table
        table = {}
        for impl in getattr(self.pm.hook, f"hpopt_{kind}").get_hookimpls():
            dist, version = self.origin.get(impl.plugin_name, ("?", "?"))
            try:
                offered = impl.function()
            except Exception as exc:  # noqa: BLE001  (named: a bare error would not say whose it is)
                raise PluginError(
                    f"plugin {impl.plugin_name!r} ({dist} {version}) raised {type(exc).__name__} in "
                    f"hpopt_{kind}(): {exc}. Fix or uninstall it, or block it with HPOPT_BLOCK_PLUGINS."
                ) from exc
            if not isinstance(offered, dict):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} ({dist}) returned {type(offered).__name__} from "
                    f"hpopt_{kind}(); it must return a dict of name -> factory."
                )
            for name, factory in offered.items():
                unusable = factory is None or (kind != "problems" and not callable(factory))
                if not isinstance(name, str) or unusable:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} offers a malformed {kind} entry {name!r} "
                        f"(a str name and a callable factory are needed, got {factory!r})."
                    )
                rule = _name_rule(kind, name)
                if rule:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} offers the {kind[:-1]} name {name!r}: {rule}."
                    )
                prev = table.get(name)
                if prev is not None:
                    raise PluginError(
                        f"the {kind[:-1]} name {name!r} is claimed twice: by plugin {prev.plugin!r} "
                        f"({prev.distribution} {prev.version}) and by plugin {impl.plugin_name!r} "
                        f"({dist} {version}). Uninstall one, or block it with HPOPT_BLOCK_PLUGINS."
                    )
                table[name] = Provider(kind, name, factory, impl.plugin_name, dist, version)
        self.tables[kind] = table
        return table


def _name_rule(kind: str, name: str) -> str:
    """Why ``name`` cannot be looked up as offered ('' when it can): lookups are exact, and storage
    schemes are matched lower-cased and without a ``+driver`` suffix."""
    if not name or name != name.strip():
        return "a name must be non-empty, without leading or trailing whitespace"
    if kind == "storages" and (name != name.lower() or any(c in name for c in "+:/ ")):
        return "a URL scheme must be lower-case, without '+', ':', '/' or spaces (URLs are matched that way)"
    return ""


_lock = threading.Lock()
_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    with _lock:
        if _registry is None:
            _registry = _Registry()
        return _registry


def reload_plugins() -> None:
    """Forget what was discovered; the next lookup scans the entry points again."""
    global _registry
    with _lock:
        _registry = None


def plugin_manager() -> pluggy.PluginManager:
    """The pluggy plugin manager (for registering a plugin object at run time)."""
    return _get().pm


def register(plugin: Any, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks) like an installed one."""
    reg = _get()
    reg.pm.register(plugin, name=name)
    pname = reg.pm.get_name(plugin) or repr(plugin)
    reg.origin.setdefault(pname, ("(registered at run time)", "-"))
    reg.tables.clear()


def unregister(plugin: Any) -> None:
    """Undo :func:`register`."""
    reg = _get()
    reg.pm.unregister(plugin)
    reg.tables.clear()


def failed_plugins() -> dict[str, str]:
    """Entry-point plugins that failed to load, with the error."""
    return dict(_get().failed)


def available_samplers() -> dict[str, Provider]:
    """Every registered sampler name with its provider (distribution and version)."""
    return dict(_get().table("samplers"))


def available_pruners() -> dict[str, Provider]:
    """Every registered pruner name with its provider."""
    return dict(_get().table("pruners"))


def available_problems() -> dict[str, Provider]:
    """Every registered benchmark problem with its provider."""
    return dict(_get().table("problems"))


def _make(kind: str, name: str, settings: dict[str, Any]) -> Any:
    if not isinstance(name, str):
        raise TypeError(f"a {kind[:-1]} name must be a str, but got {name!r}.")
    table = _get().table(kind)
    provider = table.get(name)
    if provider is None:
        raise PluginError(f"no {kind[:-1]} named {name!r}; available: {sorted(table)}.")
    try:
        built = provider.factory(**settings)
    except TypeError as exc:
        raise TypeError(f"{kind[:-1]} {name!r} ({provider.distribution}): {exc}") from None
    from hpopt.pruners.base import Pruner
    from hpopt.samplers.base import Sampler

    base = Sampler if kind == "samplers" else Pruner
    if not isinstance(built, base):
        raise PluginError(
            f"the factory of {kind[:-1]} {name!r} (plugin {provider.plugin!r}, {provider.distribution}) "
            f"returned {built!r}, which is not an hpopt.{base.__name__}."
        )
    return built


def make_sampler(name: str, **settings: Any) -> Any:
    """Build a registered sampler, e.g. ``make_sampler("grid", search_space={...})``.

    Raises:
        PluginError: Unknown name (the available ones are listed).
        TypeError, ValueError: Settings the sampler refuses.
    """
    return _make("samplers", name, settings)


def make_pruner(name: str, **settings: Any) -> Any:
    """Build a registered pruner by name (see :func:`make_sampler`)."""
    return _make("pruners", name, settings)


def storage_factory(url: str) -> Callable[[str], Any]:
    """The backend factory for ``url``'s scheme (``sqlite``, ...).

    Raises:
        ValueError: The URL has no scheme, or no plugin provides it (known schemes listed).
    """
    table = _get().table("storages")
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValueError(
            f"a storage URL looks like 'scheme://...' (e.g. 'sqlite:///study.db'), but got {url!r}."
        )
    provider = table.get(scheme.split("+")[0].lower())
    if provider is None:
        raise ValueError(f"no storage handles {scheme!r} URLs; known schemes: {sorted(table)}.")
    return provider.factory
