"""Tests of benchmark summaries, Markdown, plots and the ``hpopt bench`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpopt.benchmark import summarize, to_markdown
from hpopt.cli import main


def _rec(sampler, problem, seed, regret, status="ok", sampler_s=0.001):
    n = len(regret)
    return {
        "sampler": sampler, "problem": problem, "seed": seed, "n_trials": n, "status": status,
        "regret": regret, "values": regret, "regret_kind": "regret",
        "sampler_seconds": [sampler_s] * n, "objective_seconds": [0.01] * n,
    }


def _records():
    """good beats bad on p1 clearly on every seed; the two are equal on p2."""
    recs = []
    for seed in range(8):
        recs.append(_rec("good", "p1", seed, [5.0, 2.0, 1.0, 0.1 + 0.01 * seed], sampler_s=0.002))
        recs.append(_rec("bad", "p1", seed, [5.0, 4.0, 3.0, 2.0 + 0.01 * seed]))
        recs.append(_rec("good", "p2", seed, [1.0, 1.0, 1.0, 1.0], sampler_s=0.002))
        recs.append(_rec("bad", "p2", seed, [1.0, 1.0, 1.0, 1.0]))
    return recs


class TestSummary:
    def test_ranks_wins_and_ties(self):
        """A clearly better sampler wins; identical results tie."""
        s = summarize(_records())
        assert s.ranks[("p1", 1.0)] == {"good": 1.0, "bad": 2.0}
        assert s.outcome["p1"] == {"good": "win"}
        assert s.outcome["p2"] == {"good": "tie", "bad": "tie"}
        assert s.wins_ties("good") == (1, 1) and s.wins_ties("bad") == (0, 1)
        assert s.mean_rank("good") == pytest.approx(1.25)
        assert s.mean_rank("bad") == pytest.approx(1.75)

    def test_anytime_regret_at_budget_fractions(self):
        """Regret at 25/50/100% of the budget reads trials 1, 2 and 4 of a 4-trial run."""
        s = summarize(_records())
        assert np.all(s.anytime[("p1", "good", 0.25)] == 5.0)
        assert np.all(s.anytime[("p1", "good", 0.5)] == 2.0)
        assert np.median(s.anytime[("p1", "good", 1.0)]) == pytest.approx(0.135)

    def test_overhead_is_the_median_sampler_time(self):
        """Overhead per sampler is the median sampler seconds per trial."""
        s = summarize(_records())
        assert s.overhead["good"] == (pytest.approx(0.002), pytest.approx(0.01))

    def test_failed_runs_are_counted_not_averaged(self):
        """Failed runs show in the counts and stay out of the statistics."""
        recs = _records() + [_rec("good", "p1", 99, [], status="failed")]
        s = summarize(recs)
        assert s.counts["good"] == {"ok": 16, "failed": 1}
        assert len(s.final[("p1", "good")]) == 8

    def test_run_without_finished_trials_counts_as_infinite_regret(self):
        """A run whose regret never became known ranks last, not first."""
        recs = [_rec("a", "p", 0, [None, None]), _rec("b", "p", 0, [3.0, 2.0])]
        s = summarize(recs)
        assert s.ranks[("p", 1.0)] == {"a": 2.0, "b": 1.0}

    def test_markdown_tables(self):
        """The Markdown report has the across-problems and per-problem tables."""
        text = to_markdown(summarize(_records()))
        assert "| `good` | 1.25 |" in text
        assert "| p1 | 0.135 [0.1175, 0.1525] (1) **win** |" in text
        assert "### Anytime regret" in text


class TestPlots:
    def test_one_png_per_problem_and_a_summary(self, tmp_path):
        """plot_results writes <problem>.png for each problem and summary.png."""
        pytest.importorskip("matplotlib")
        from hpopt.benchmark import plot_results

        paths = plot_results(_records(), tmp_path)
        assert sorted(p.name for p in paths) == ["p1.png", "p2.png", "summary.png"]
        assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


class TestCli:
    def test_run_then_report(self, tmp_path, capsys):
        """`hpopt bench run` writes JSON lines; `hpopt bench report` prints tables and plots."""
        out = tmp_path / "r.jsonl"
        code = main(["bench", "run", "--samplers", "random,random+median", "--problems",
                     "branin,curves-synthetic", "--trials", "6", "--seeds", "2", "--jobs", "2",
                     "--out", str(out)])
        assert code == 0
        lines = out.read_text().splitlines()
        assert len(lines) == 8 and all(json.loads(x)["status"] == "ok" for x in lines)
        err = capsys.readouterr().err
        assert "[8/8]" in err
        with open(out, "a") as fh:
            fh.write("not json\n")
        pytest.importorskip("matplotlib")
        code = main(["bench", "report", str(out), "--plots", str(tmp_path / "plots")])
        captured = capsys.readouterr()
        assert code == 0 and "### Across problems" in captured.out
        assert "### Steps consumed" in captured.out
        assert "r.jsonl:9: malformed" in captured.err
        assert (tmp_path / "plots" / "branin.png").exists()

    def test_unknown_sampler_is_a_one_line_error(self, tmp_path, capsys):
        """An unknown sampler exits with 2 and lists the available ones."""
        code = main(["bench", "run", "--samplers", "nope", "--problems", "branin",
                     "--out", str(tmp_path / "x.jsonl")])
        assert code == 2
        err = capsys.readouterr().err
        assert "unknown sampler 'nope'; hpopt samplers: [" in err and "random" in err

    def test_list_shows_problems_tags_and_peers(self, capsys):
        """`hpopt bench list` names problems with tags, hpopt samplers and peers."""
        assert main(["bench", "list"]) == 0
        out = capsys.readouterr().out
        assert "branin" in out and "tags:" in out and "optuna:tpe" in out

    def test_list_with_an_unknown_tag_exits_2_naming_the_tags(self, capsys):
        """It printed an empty problem list and exited 0."""
        assert main(["bench", "list", "--tag", "nosuch"]) == 2
        captured = capsys.readouterr()
        assert "unknown tag 'nosuch'; tags: " in captured.err and "branin" in captured.err
        assert captured.out == ""
        assert main(["bench", "list", "--tag", "branin"]) == 0
        assert "branin in 2 dimensions" in capsys.readouterr().out
