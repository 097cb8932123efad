"""hpopt.report: one self-contained HTML page per study, checked by parsing it and by taking a
screenshot in headless Chromium (Debian's package, as CI installs it)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser

import pytest

import hpopt
from hpopt.report import render_report, study_summary, write_report

CHROMIUM = "/usr/bin/chromium"
NAME = 'tune <script>alert("x")</script> & co'
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "source", "wbr", "area", "base"}


class _Checker(HTMLParser):
    """Collects tags, checks that every non-void element is closed in order, keeps text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker


def _objective(trial: hpopt.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    kind = trial.suggest_categorical("kind", ["<i>tree</i>", "linear"])
    units = trial.suggest_int("units", 8, 64)
    for step in range(4):
        trial.report(lr * (4 - step) + units / 100, step)
    if trial.number % 7 == 6:
        raise RuntimeError("out of <memory>")
    return (lr - 0.01) ** 2 + units / 100 + (0.5 if kind == "linear" else 0.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The full report (with plots) of a 40-trial study, written once for the tests below."""
    pytest.importorskip("matplotlib")
    study = hpopt.create_study(study_name=NAME, seed=0)
    study.set_user_attr("dataset", "<iris>")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(_objective, n_trials=40, catch=(RuntimeError,))
    path = tmp_path_factory.mktemp("report") / "report.html"
    notes = write_report(study, path)
    return {"study": study, "path": path, "page": path.read_text(encoding="utf-8"), "notes": notes}


def test_page_is_well_formed_and_self_contained(report):
    page = report["page"]
    checker = _parse(page)
    assert checker.errors == [] and checker.stack == []
    assert {"html", "head", "body", "table", "img", "style"} <= checker.tags
    assert "script" not in checker.tags and "link" not in checker.tags  # the name is escaped text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "url(" not in page  # no CSS resources either


def test_plots_are_embedded_pngs(report):
    imgs = _parse(report["page"]).imgs
    assert len(imgs) >= 7, report["notes"]  # history, importance, slice, parallel, contour, edf, intermediate
    for img in imgs:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
        assert img.get("alt")
    assert report["notes"] == []


def test_page_shows_summary_best_trial_and_both_importances(report):
    study = report["study"]
    text = " ".join(" ".join(_parse(report["page"]).text).split())
    best = study.best_trial
    assert f"{best.values[0]:.6g}" in text
    assert f"{best.params['lr']:.6g}" in text and str(best.params["units"]) in text
    assert NAME in text  # shown as text...
    assert "<script>" not in report["page"]  # ...never as markup
    assert "&lt;i&gt;tree&lt;/i&gt;" in report["page"] or best.params["kind"] == "linear"
    assert "<iris>" in text and "out of <memory>" in text  # user attr and failure reason, escaped
    counts = study_summary(study)["counts"]
    assert counts["fail"] == 5 and counts["complete"] == 35
    assert "ped-anova" in text and "fanova" in text
    for name in ("lr", "kind", "units"):
        assert name in text


def test_degrades_with_notes_instead_of_failing(tmp_path):
    study = hpopt.create_study(seed=1)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    notes = write_report(study, tmp_path / "one.html", plots=False)
    page = (tmp_path / "one.html").read_text()
    assert _parse(page).errors == []
    assert any("importance" in n for n in notes)
    assert 'class="note"' in page
    empty = hpopt.create_study()
    empty.ask()
    notes = write_report(empty, tmp_path / "empty.html")
    page = (tmp_path / "empty.html").read_text()
    assert "No trial is COMPLETE" in page and _parse(page).errors == []
    assert "<img" not in page


def test_multi_objective_shows_the_pareto_front():
    study = hpopt.create_study(directions=["minimize", "maximize"], seed=2)
    study.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_float("b", 0, 1)), n_trials=15)
    page, notes = render_report(study, plots=False)
    assert "Pareto-optimal trials" in page and _parse(page).errors == []
    for t in study.best_trials:
        assert f"<td class=\"num\">{t.number}</td>" in page


def test_bad_arguments_write_nothing(tmp_path):
    study = hpopt.create_study()
    with pytest.raises(ValueError, match="does not exist"):
        write_report(study, tmp_path / "missing" / "r.html")
    with pytest.raises(ValueError, match="seed"):
        write_report(study, tmp_path / "r.html", seed="0")
    assert list(tmp_path.iterdir()) == []


def _chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: apt-get install chromium (Debian's package).")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test.")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    """Chromium opens the page and the screenshot is a real page: many colours, text and plots."""
    browser = _chromium_or_skip()
    mpimg = pytest.importorskip("matplotlib.image")
    np = pytest.importorskip("numpy")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,2000",
           report["path"].as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    img = mpimg.imread(shot)
    assert img.shape[:2] == (2000, 1280)
    rgb = (np.asarray(img[..., :3]) * 255).round().astype(np.uint8).reshape(-1, 3)
    colours = np.unique(rgb, axis=0)
    assert len(colours) > 200, f"only {len(colours)} colours: a blank or broken page"
    white = np.all(rgb >= 250, axis=1).mean()
    assert 0.3 < white < 0.98, f"{white:.1%} of the screenshot is white"
    top = rgb.reshape(2000, 1280, 3)[:120]  # the header: dark title text on white
    assert (top.max(axis=2) < 80).mean() > 0.002
    shutil.rmtree(profile, ignore_errors=True)
