"""hpopt.plot: every plot renders to PNG (Agg, no pyplot) and shows what it should."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

import hpopt  # noqa: E402
from hpopt.plot import (  # noqa: E402
    PLOTS,
    plot_contour,
    plot_edf,
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_pareto_front,
    plot_slice,
    save,
)
from hpopt.plot.pareto import front_mask  # noqa: E402


def pareto_front_mask(costs: np.ndarray) -> np.ndarray:
    """Brute-force reference: a row is dominated if some row is <= everywhere and < somewhere."""
    le = np.all(costs[None, :, :] <= costs[:, None, :], axis=2)
    lt = np.any(costs[None, :, :] < costs[:, None, :], axis=2)
    return ~np.any(le & lt, axis=1)

SPACE = {
    "lr": hpopt.Float(1e-5, 1e-1, log=True),
    "x": hpopt.Float(-5.0, 5.0),
    "depth": hpopt.Int(1, 8),
    "opt": hpopt.Categorical(["adam", "sgd", "rmsprop"]),
}
N = 40


def _value(p: dict) -> float:
    return (p["x"] - 1) ** 2 + (math.log10(p["lr"]) + 3) ** 2 + {"adam": 0, "sgd": 1, "rmsprop": 2}[p["opt"]]


@pytest.fixture(scope="module")
def study() -> hpopt.Study:
    """40 trials: every 5th pruned after 2 reports, every 7th failed, the rest complete with 4."""
    s = hpopt.create_study(seed=0, study_name="plots")
    for i in range(N):
        t = s.ask(SPACE)
        v = _value(t.params)
        for step in range(2 if i % 5 == 0 else 4):
            t.report(v * (1 + 1 / (step + 1)), step)
        if i % 5 == 0:
            s.tell(t, state="pruned")
        elif i % 7 == 0:
            s.tell(t, state="fail")
        else:
            s.tell(t, v)
    return s


@pytest.fixture(scope="module")
def n_complete(study: hpopt.Study) -> int:
    return len(study.get_trials(["complete"]))


def _mo(n_obj: int, n: int = 30) -> hpopt.Study:
    s = hpopt.create_study(seed=1, directions=["minimize"] * (n_obj - 1) + ["maximize"])
    for _ in range(n):
        t = s.ask({"a": hpopt.Float(0, 1), "b": hpopt.Float(0, 1)})
        a, b = t.params["a"], t.params["b"]
        vals = [a, (1 - a) ** 2 + b, b * (1 - a)][: n_obj - 1] + [a * b + b]
        s.tell(t, vals)
    return s


def _scatters(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


# -- every kind renders ---------------------------------------------------------------------------

def test_registry_names():
    assert sorted(PLOTS) == ["contour", "edf", "history", "importance", "intermediate", "parallel",
                             "pareto", "slice"]


@pytest.mark.parametrize("kind", sorted(PLOTS))
def test_every_kind_renders_png(kind, study, tmp_path):
    if kind == "importance" and importlib.util.find_spec("hpopt.importance") is None:
        pytest.skip("hpopt.importance is not in this tree")
    if kind == "pareto":
        fig = PLOTS[kind](_mo(2))
    elif kind == "contour":
        fig = PLOTS[kind](study, params=["lr", "x"])
    else:
        fig = PLOTS[kind](study)
    path = save(fig, tmp_path / f"{kind}.png")
    assert _is_png(path) and path.stat().st_size > 5000  # a blank 700x450 PNG is ~3 kB
    title = fig.axes[0].get_title() or (fig._suptitle.get_text() if fig._suptitle else "")
    assert title != ""


def test_svg_and_bad_suffix(study, tmp_path):
    fig = plot_optimization_history(study)
    p = save(fig, tmp_path / "h.SVG")
    assert p.read_text()[:200].lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        save(fig, tmp_path / "h.jpg")
    assert not (tmp_path / "h.jpg").exists()


def test_no_pyplot_and_lazy_import():
    code = (
        "import sys, hpopt\n"
        "import hpopt.plot\n"
        "assert 'matplotlib' not in sys.modules, 'imported too early'\n"
        "s = hpopt.create_study(seed=0)\n"
        "s.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=5)\n"
        "hpopt.plot.plot_slice(s).savefig(sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "/dev/null"], capture_output=True, text=True,
                         timeout=120, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr


def test_missing_matplotlib_names_the_extra(study, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "hpopt\[plot\]"'):
        plot_optimization_history(study)


# -- content --------------------------------------------------------------------------------------

def test_history_points_and_best_line(study, n_complete):
    fig = plot_optimization_history(study, target_name="Loss")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Trial" and ax.get_ylabel() == "Loss"
    (sc,) = _scatters(ax)
    assert len(sc.get_offsets()) == n_complete
    (best,) = ax.get_lines()
    y = best.get_ydata()
    assert np.all(np.diff(y) <= 0) and y[-1] == pytest.approx(study.best_value)
    # a target without a direction: no best line; with one: there is
    assert not plot_optimization_history(study, target=lambda t: -t.value).axes[0].get_lines()
    ax2 = plot_optimization_history(study, target=lambda t: -t.value, direction="maximize").axes[0]
    assert ax2.get_lines()[0].get_ydata()[-1] == pytest.approx(-study.best_value)


def test_parallel_lines_labels_and_raster(study, n_complete):
    fig = plot_parallel_coordinate(study, params=["lr", "opt", "depth"])
    ax = fig.axes[0]
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection) and len(c.get_paths()) > 5]
    assert len(lc.get_paths()) == n_complete
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Objective value", "lr", "opt", "depth"]
    texts = {t.get_text() for t in ax.texts}
    assert {"adam", "sgd", "rmsprop"} <= texts  # categorical axis labelled by choice
    assert any(t in texts for t in ("0.001", "0.0001", "0.01"))  # log axis ticks at decades
    assert fig.axes[1].get_ylabel() == "Objective value"  # colorbar
    # above max_lines the lines become one image with the same axes
    fig2 = plot_parallel_coordinate(study, max_lines=0)
    assert any(isinstance(i, AxesImage) for i in fig2.axes[0].images)
    assert not [c for c in fig2.axes[0].collections if isinstance(c, LineCollection)
                and len(c.get_paths()) > 5]


def test_parallel_conditional_params_leave_gaps():
    s = hpopt.create_study(seed=3)
    for _ in range(20):
        t = s.ask()
        kind = t.suggest_categorical("kind", ["a", "b"])
        v = t.suggest_float("va", 0, 1) if kind == "a" else t.suggest_int("vb", 1, 4)
        s.tell(t, float(v))
    ax = plot_parallel_coordinate(s).axes[0]
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection) and len(c.get_paths()) > 5]
    assert len(lc.get_paths()) == 20
    assert all(np.isnan(p.vertices).any() for p in lc.get_paths())  # each misses va or vb
    assert {len(a.collections) for a in plot_slice(s).axes[:-1]} == {1}


def test_slice_axes_scales_and_categories(study, n_complete):
    fig = plot_slice(study)
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert [a.get_xlabel() for a in panels] == ["lr", "x", "depth", "opt"]
    assert len(fig.axes) == len(SPACE) + 1  # one colorbar
    by = {a.get_xlabel(): a for a in panels}
    assert by["lr"].get_xscale() == "log" and by["x"].get_xscale() == "linear"
    assert [t.get_text() for t in by["opt"].get_xticklabels()] == ["adam", "sgd", "rmsprop"]
    for a in panels:
        (sc,) = _scatters(a)
        assert len(sc.get_offsets()) == n_complete
    cat = _scatters(by["opt"])[0].get_offsets()[:, 0]
    assert np.all(np.abs(cat - np.round(cat)) < 0.2)  # jitter stays near its choice
    assert panels[0].get_ylabel() == "Objective value"


def test_contour_axes_points_and_surface(study, n_complete):
    fig = plot_contour(study, params=["lr", "x"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("lr", "x")
    pts = _scatters(ax)
    assert len(pts[0].get_offsets()) == n_complete and len(pts[1].get_offsets()) == 1  # best: star
    assert fig.axes[1].get_ylabel() == "Objective value"  # colorbar of the filled contours
    best = study.best_params
    assert tuple(pts[1].get_offsets()[0]) == pytest.approx((best["lr"], best["x"]))
    ax2 = plot_contour(study, params=["opt", "depth"]).axes[0]
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["adam", "sgd", "rmsprop"]


def test_contour_interpolation_is_linear_and_degenerate_cases_work():
    from hpopt.plot.contour import _interpolate

    rng = np.random.default_rng(0)
    px, py = rng.random(200), rng.random(200)
    gx, gy = np.meshgrid(np.linspace(0.2, 0.8, 5), np.linspace(0.2, 0.8, 5))
    z = _interpolate(px, py, 2 * px - py, gx, gy)
    assert np.allclose(z, 2 * gx - gy)  # a plane is reproduced exactly inside the hull
    z = _interpolate(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([1.0, 3.0]), gx, gy)
    assert set(np.unique(z)) <= {1.0, 3.0}  # two points: nearest
    line = np.linspace(0, 1, 5)
    z = _interpolate(line, line, line, gx, gy)  # collinear: nearest, no Qhull error
    assert np.isfinite(z).all()
    # duplicated points are averaged
    z = _interpolate(np.array([0, 0, 1, 0.0]), np.array([0, 0, 0, 1.0]), np.array([0, 2, 1, 1.0]),
                     np.array([[0.0]]), np.array([[0.0]]))
    assert z[0, 0] == pytest.approx(1.0)


def test_contour_with_two_trials_and_one_value():
    s = hpopt.create_study(seed=0)
    for _ in range(2):
        s.tell(s.ask({"x": hpopt.Float(0, 1), "y": hpopt.Float(0, 1)}), 1.0)
    fig = plot_contour(s)  # exactly two params: no `params` needed; constant value: no colorbar
    assert len(fig.axes) == 1 and len(_scatters(fig.axes[0])[0].get_offsets()) == 2


def test_pareto_2d_front_and_3d(tmp_path):
    s2 = _mo(2)
    ax = plot_pareto_front(s2, target_names=["cost", "gain"]).axes[0]
    dominated, front = _scatters(ax)
    assert len(front.get_offsets()) == len(s2.best_trials)
    assert len(front.get_offsets()) + len(dominated.get_offsets()) == 30
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("cost", "gain")
    assert dominated.get_alpha() < 1 and front.get_alpha() in (None, 1)  # dominated ones dimmed
    s3 = _mo(3)
    fig = plot_pareto_front(s3)
    assert fig.axes[0].name == "3d" and fig.axes[0].get_zlabel() == "Objective 2"
    save(fig, tmp_path / "p3.png")
    # targets choose 2 of 3 objectives (directions then given)
    ax = plot_pareto_front(s3, targets=lambda t: t.values[:2], directions=["minimize", "minimize"]).axes[0]
    assert ax.name != "3d"
    (front,) = _scatters(plot_pareto_front(s2, include_dominated=False).axes[0])
    assert len(front.get_offsets()) == len(s2.best_trials)


def test_dynamic_space_mixing_categorical_and_numeric(monkeypatch):
    from hpopt.plot._common import param_axis, param_column

    s = hpopt.create_study(seed=0)
    s.tell(s.ask({"p": hpopt.Categorical(["a", "b"])}), 1.0)
    # ask() refuses another kind for a known name; such a study still arises from two workers racing
    # (each checks before the other writes) or from an older store: the plots must draw it.
    monkeypatch.setattr("hpopt.study.check_compatible", lambda *args: None)
    s.tell(s.ask({"p": hpopt.Float(0, 1)}), 2.0)
    trials = s.trials
    axis = param_axis(trials, "p")
    assert axis.kind == "categorical" and axis.choices[:2] == ("a", "b") and len(axis.choices) == 3
    col = param_column(trials, axis)
    assert col[1] == 2.0 and col[0] in (0.0, 1.0)
    assert plot_slice(s).axes[0].get_xticklabels()[0].get_text() == "a"


@pytest.mark.parametrize("n,d", [(1, 2), (50, 2), (300, 2), (50, 3), (300, 3), (200, 4)])
def test_front_mask_matches_all_pairs(n, d):
    rng = np.random.default_rng(n + d)
    costs = np.round(rng.random((n, d)), 1)  # rounding makes ties and exact duplicates
    assert np.array_equal(front_mask(costs), pareto_front_mask(costs))


def test_intermediate_curves_and_pruned_marks(study):
    ax = plot_intermediate_values(study).axes[0]
    lcs = [c for c in ax.collections if isinstance(c, LineCollection)]
    n_pruned = len(study.get_trials(["pruned"]))
    n_with = len([t for t in study.trials if t.intermediate_values])
    assert sum(len(c.get_paths()) for c in lcs) == n_with  # failed trials' curves too
    (marks,) = [c for c in _scatters(ax) if c.get_label() == "Pruned here"]
    assert len(marks.get_offsets()) == n_pruned
    assert np.all(marks.get_offsets()[:, 0] == 1)  # pruned after steps 0 and 1
    assert ax.get_xlabel() == "Step"


def test_edf_several_studies(study, n_complete):
    other = hpopt.create_study(seed=5, study_name="other")
    other.optimize(lambda t: _value({k: t.suggest(k, d) for k, d in SPACE.items()}), n_trials=15)
    ax = plot_edf([study, other]).axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2 and lines[0].get_label().startswith("plots")
    y = lines[0].get_ydata()
    assert y[0] == 0 and y[-1] == 1 and len(y) == n_complete + 1
    assert ax.get_ylabel() == "Cumulative probability"


def test_importance_bars(study):
    pytest.importorskip("hpopt.importance")
    from hpopt.importance import get_param_importances
    from hpopt.plot import plot_param_importances

    fig = plot_param_importances(study, params=["lr", "x", "opt"])
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == ["lr", "opt", "x"]
    imp = get_param_importances(study, params=["lr", "x", "opt"], seed=0)
    assert names[-1] == next(iter(imp))  # the most important bar on top
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths) and sum(widths) == pytest.approx(sum(imp.values()))


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(PLOTS))
def test_no_completed_trials(kind):
    s = hpopt.create_study(directions=["minimize", "minimize"] if kind == "pareto" else None)
    t = s.ask({"x": hpopt.Float(0, 1), "y": hpopt.Float(0, 1)})
    s.tell(t, state="fail")
    msg = "reported" if kind == "intermediate" else "COMPLETE"
    with pytest.raises(ValueError, match=msg):
        PLOTS[kind](s)


@pytest.mark.parametrize("kind", ["parallel", "slice", "contour", "importance"])
def test_unknown_parameter_lists_known_ones(kind, study):
    if kind == "importance" and importlib.util.find_spec("hpopt.importance") is None:
        pytest.skip("hpopt.importance is not in this tree")
    params = ["lr", "nope"] if kind == "contour" else ["nope"]
    with pytest.raises(ValueError, match=r"unknown parameter 'nope'.*'lr', 'x', 'depth', 'opt'"):
        PLOTS[kind](study, params=params)


@pytest.mark.parametrize("kind", ["history", "parallel", "slice", "contour", "edf", "intermediate"])
def test_multi_objective_needs_target(kind):
    with pytest.raises(ValueError, match="objectives"):
        PLOTS[kind](_mo(2))


def test_more_bad_input(study):
    with pytest.raises(ValueError, match="2 or 3 objectives"):
        plot_pareto_front(study)
    with pytest.raises(ValueError, match="2 or 3 objectives"):
        plot_pareto_front(_mo(4, 10))
    with pytest.raises(ValueError, match=r"params=\(x, y\)"):
        plot_contour(study)
    with pytest.raises(ValueError, match="exactly two"):
        plot_contour(study, params=["lr", "x", "depth"])
    with pytest.raises(ValueError, match="twice"):
        plot_slice(study, params=["lr", "lr"])
    with pytest.raises(ValueError, match="list of parameter names"):
        plot_slice(study, params="lr")
    with pytest.raises(ValueError, match="direction"):
        plot_optimization_history(study, direction="down")
    with pytest.raises(ValueError, match="target_name"):
        plot_slice(study, target_name="")
    with pytest.raises(ValueError, match="real number"):
        plot_slice(study, target=lambda t: "x")
    with pytest.raises(ValueError, match="resolution"):
        plot_contour(study, params=["lr", "x"], resolution=1)
    with pytest.raises(ValueError, match="max_lines"):
        plot_parallel_coordinate(study, max_lines=-1)
    with pytest.raises(ValueError, match="objective"):
        plot_intermediate_values(_mo(2), objective=2)
    with pytest.raises(ValueError, match="non-empty list"):
        plot_edf([])
    with pytest.raises(ValueError, match="log_y"):
        plot_optimization_history(study, target=lambda t: -1.0, log_y=True)
    with pytest.raises(ValueError, match="target_names"):
        plot_pareto_front(_mo(2), target_names=["a"])
