"""Tests of the exact hypervolume (2-D sweep; 3-D and up by slicing) against hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hpopt.benchmark import hypervolume, nondominated


class TestTwoObjectives:
    def test_two_points(self):
        """(1,2) and (2,1) against (3,3): 2 + 2 - 1 = 3."""
        assert hypervolume([[1, 2], [2, 1]], (3, 3)) == 3.0

    def test_dominated_and_outside_points_add_nothing(self):
        """A dominated point, a duplicate and a point beyond the reference change nothing."""
        base = hypervolume([[1, 2], [2, 1]], (3, 3))
        assert hypervolume([[1, 2], [2, 1], [2.5, 2.5], [1, 2], [0, 5], [3, 0]], (3, 3)) == base

    def test_staircase(self):
        """Three steps (1,3), (2,2), (3,1) against (4,4): 3 + 2 + 1 = 6."""
        assert hypervolume([[3, 1], [1, 3], [2, 2]], (4, 4)) == 6.0

    def test_empty_and_nan(self):
        """No points, or only NaN rows, give 0."""
        assert hypervolume(np.empty((0, 2)), (1, 1)) == 0.0
        assert hypervolume([[np.nan, 0.5]], (1, 1)) == 0.0


class TestThreeObjectives:
    def test_single_box(self):
        """One point: the box to the reference, 1 x 2 x 3."""
        assert hypervolume([[0.0, 0.0, 0.0]], (1.0, 2.0, 3.0)) == 6.0

    def test_two_boxes_inclusion_exclusion(self):
        """(1,1,2) and (2,2,1) against (3,3,3): 4 + 2 - 1 = 5."""
        assert hypervolume([[1, 1, 2], [2, 2, 1]], (3, 3, 3)) == pytest.approx(5.0)

    def test_three_boxes_inclusion_exclusion(self):
        """(0,1,1), (1,0,1), (1,1,0) against (2,2,2): 3*2 - 3*1 + 1 = 4."""
        assert hypervolume([[0, 1, 1], [1, 0, 1], [1, 1, 0]], (2, 2, 2)) == pytest.approx(4.0)

    def test_invariant_under_permuting_objectives(self):
        """Reordering the objectives (and the reference) leaves the volume unchanged."""
        rng = np.random.default_rng(1)
        pts = rng.random((30, 3))
        ref = np.array([1.1, 1.2, 1.3])
        vols = {round(hypervolume(pts[:, list(p)], ref[list(p)]), 12)
                for p in itertools.permutations(range(3))}
        assert len(vols) == 1

    def test_agrees_with_inclusion_exclusion_on_random_sets(self):
        """Exact inclusion-exclusion over all subsets of 6 random points gives the same volume."""
        rng = np.random.default_rng(2)
        for _ in range(5):
            pts = rng.random((6, 3))
            ref = np.ones(3)
            total = 0.0
            for k in range(1, 7):
                for sub in itertools.combinations(range(6), k):
                    corner = pts[list(sub)].max(axis=0)
                    total += (-1) ** (k + 1) * np.prod(ref - corner)
            assert hypervolume(pts, ref) == pytest.approx(total, rel=1e-12)

    def test_four_objectives_by_inclusion_exclusion(self):
        """Slicing also works in 4-D: two boxes, inclusion-exclusion."""
        pts = [[0, 0, 0, 1], [1, 1, 1, 0]]
        # 2*2*2*1 + 1*1*1*2 - 1*1*1*1
        assert hypervolume(pts, (2, 2, 2, 2)) == pytest.approx(9.0)


def test_mismatched_reference_is_refused():
    """A reference with another number of objectives is a ValueError naming both."""
    with pytest.raises(ValueError, match="reference"):
        hypervolume([[0, 0]], (1, 1, 1))


def test_nondominated_mask():
    """nondominated() keeps the front and the first copy of duplicates."""
    pts = np.array([[1, 2], [2, 1], [2, 2], [1, 2], [0, 3]])
    assert nondominated(pts).tolist() == [True, True, False, False, True]
