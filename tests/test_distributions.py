"""Distributions: validation, internal mapping, canonical values and the JSON round-trip."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

import hpopt
from hpopt import Categorical, Float, Int, distribution_from_json
from hpopt.distributions import check_compatible

ALL = [
    Float(-1.0, 2.0), Float(1e-5, 1.0, log=True), Float(0.0, 1.0, step=0.25), Float(3.0, 3.0),
    Int(-4, 9), Int(1, 1024, log=True), Int(0, 12, step=3), Int(5, 5),
    Categorical([None, True, 3, 2.5, "s"]), Categorical(["only"]),
]


class TestFloat:
    def test_plain_bounds_are_floats(self) -> None:
        """Int bounds become floats; the repr shows the settings."""
        d = Float(0, 1)
        assert (d.low, d.high) == (0.0, 1.0) and type(d.low) is float
        assert repr(Float(1e-3, 1.0, log=True)) == "Float(0.001, 1.0, log=True)"

    def test_contains(self) -> None:
        """contains accepts reals in range (numpy too) and refuses bools, strings, NaN."""
        d = Float(0.0, 1.0)
        assert d.contains(0.5) and d.contains(np.float32(0.5)) and d.contains(1)
        assert not d.contains(1.5) and not d.contains(True) and not d.contains("0.5")
        assert not d.contains(math.nan)

    def test_step_grid(self) -> None:
        """A step grid accepts grid points only and snaps canonical values onto it."""
        d = Float(0.0, 1.0, step=0.1)
        assert d.contains(0.30000000000000004) and not d.contains(0.35)
        assert d.canonical(0.30000000000000004) == 0.3
        assert d.from_internal(0.62) == 0.6

    def test_step_that_does_not_divide_lowers_high_with_warning(self) -> None:
        """high is lowered to the last grid point, with an HpoptWarning."""
        with pytest.warns(hpopt.HpoptWarning, match="lowered to 0.9"):
            d = Float(0.0, 1.0, step=0.3)
        assert d.high == 0.9

    def test_log_internal(self) -> None:
        """The internal value of a log float is its natural log; from_internal inverts it."""
        d = Float(1e-3, 1.0, log=True)
        assert d.to_internal(0.1) == pytest.approx(math.log(0.1))
        assert d.from_internal(math.log(0.1)) == pytest.approx(0.1)
        assert d.internal_bounds == (math.log(1e-3), 0.0)

    def test_from_internal_clips(self) -> None:
        """from_internal clips values outside the range to the bounds."""
        d = Float(-1.0, 1.0)
        assert d.from_internal(5.0) == 1.0 and d.from_internal(-5.0) == -1.0

    @pytest.mark.parametrize(
        ("args", "kwargs", "err", "match"),
        [
            ((2.0, 1.0), {}, ValueError, "low <= high"),
            ((0.0, math.inf), {}, ValueError, "finite"),
            ((math.nan, 1.0), {}, ValueError, "finite"),
            ((0.0, 1.0), {"log": True}, ValueError, "low > 0"),
            ((-1.0, 1.0), {"log": True}, ValueError, "low > 0"),
            ((0.0, 1.0), {"step": 0.0}, ValueError, "step > 0"),
            ((0.0, 1.0), {"step": -0.5}, ValueError, "step > 0"),
            ((0.1, 1.0), {"step": 0.1, "log": True}, ValueError, "cannot be combined"),
            (("0", 1.0), {}, TypeError, "low"),
            ((True, 1.0), {}, TypeError, "low"),
            ((0.0, None), {}, TypeError, "high"),
        ],
    )
    def test_invalid(self, args: tuple, kwargs: dict, err: type, match: str) -> None:
        """Invalid settings are refused at construction with a message naming the rule."""
        with pytest.raises(err, match=match):
            Float(*args, **kwargs)


class TestInt:
    def test_integral_floats_accepted(self) -> None:
        """Integral floats (2.0) and numpy ints are accepted as bounds and stored as int."""
        d = Int(2.0, np.int64(5))
        assert (d.low, d.high) == (2, 5) and type(d.high) is int

    def test_contains(self) -> None:
        """contains accepts integers on the grid only."""
        d = Int(0, 12, step=3)
        assert d.contains(6) and d.contains(6.0) and d.contains(np.int32(9))
        assert not d.contains(7) and not d.contains(6.5) and not d.contains(True) and not d.contains(15)

    def test_from_internal_snaps(self) -> None:
        """from_internal rounds to the nearest grid point and clips."""
        d = Int(1, 10, step=3)
        assert d.from_internal(5.4) == 4 and d.from_internal(100.0) == 10 and d.from_internal(-3) == 1

    def test_log_internal_bounds_cover_each_integer(self) -> None:
        """Every integer of a log int gets a cell of its own in internal space."""
        d = Int(1, 4, log=True)
        lo, hi = d.internal_bounds
        xs = np.linspace(lo, hi, 1001)[1:-1]
        assert {d.from_internal(x) for x in xs} == {1, 2, 3, 4}

    def test_step_that_does_not_divide_lowers_high_with_warning(self) -> None:
        """high is lowered to the last grid point, with an HpoptWarning."""
        with pytest.warns(hpopt.HpoptWarning, match="lowered to 9"):
            assert Int(0, 10, step=3).high == 9

    @pytest.mark.parametrize(
        ("args", "kwargs", "err"),
        [
            ((3, 1), {}, ValueError),
            ((0, 5), {"log": True}, ValueError),
            ((1, 5), {"step": 0}, ValueError),
            ((1, 5), {"step": -1}, ValueError),
            ((1, 5), {"step": 2, "log": True}, ValueError),
            ((0.5, 5), {}, TypeError),
            ((0, 5), {"step": 1.5}, TypeError),
            ((0, "5"), {}, TypeError),
            ((False, 5), {}, TypeError),
            ((0, math.inf), {}, TypeError),
        ],
    )
    def test_invalid(self, args: tuple, kwargs: dict, err: type) -> None:
        """Invalid settings are refused at construction."""
        with pytest.raises(err):
            Int(*args, **kwargs)


class TestCategorical:
    def test_mixed_choices_keep_types(self) -> None:
        """None, bool, int, float and str choices keep their types; numpy scalars become Python."""
        d = Categorical([None, True, 3, 2.5, "s", np.int64(7)])
        assert d.choices == (None, True, 3, 2.5, "s", 7) and type(d.choices[5]) is int

    def test_index_matches_numbers_loosely_and_bools_exactly(self) -> None:
        """1 matches a choice 1.0, but True matches only True."""
        d = Categorical([1.0, "a"])
        assert d.index(1) == 0 and d.canonical(1) == 1.0
        assert not d.contains(True)
        assert Categorical([True, 2]).index(True) == 0 and not Categorical([True, 2]).contains(1)

    def test_equality_distinguishes_types(self) -> None:
        """Categorical([1]) and Categorical([True]) are different distributions."""
        assert Categorical([1]) != Categorical([True]) and Categorical([1, 2]) == Categorical((1, 2))

    @pytest.mark.parametrize(
        ("choices", "err"),
        [
            ([], ValueError), ([1, 1], ValueError), ([1, True], ValueError), ([1, 1.0], ValueError),
            ([math.nan], ValueError), ({1, 2}, TypeError), ("abc", TypeError), ([object()], TypeError),
            ([[1]], TypeError), ([1j], TypeError), ({"a": 1}, TypeError), ([b"x"], TypeError),
        ],
    )
    def test_invalid(self, choices: object, err: type) -> None:
        """Empty, duplicated, NaN, unordered or unpersistable choices are refused."""
        with pytest.raises(err):
            Categorical(choices)

    def test_pickle_round_trip(self) -> None:
        """A categorical survives pickling with its index intact."""
        d = pickle.loads(pickle.dumps(Categorical(["a", None, 2])))
        assert d.index(None) == 1 and d == Categorical(["a", None, 2])


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_json_round_trip(dist: hpopt.Distribution) -> None:
    """to_json -> JSON text -> distribution_from_json gives an equal distribution."""
    back = distribution_from_json(json.loads(json.dumps(dist.to_json())))
    assert back == dist and type(back) is type(dist) and repr(back) == repr(dist)


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_from_internal_over_internal_bounds_is_contained(dist: hpopt.Distribution) -> None:
    """Every point of internal_bounds maps to a contained value, and both ends are reachable."""
    lo, hi = dist.internal_bounds
    values = [dist.from_internal(x) for x in np.linspace(lo, hi, 513)]
    assert all(dist.contains(v) for v in values)
    if not isinstance(dist, Categorical):
        assert min(values) == dist.low and max(values) == dist.high


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_to_internal_inverts_from_internal(dist: hpopt.Distribution) -> None:
    """from_internal(to_internal(v)) == v for values of the distribution."""
    lo, hi = dist.internal_bounds
    for x in np.linspace(lo, hi, 33):
        v = dist.from_internal(x)
        assert dist.from_internal(dist.to_internal(v)) == pytest.approx(v)


def test_distribution_from_json_refuses_junk() -> None:
    """A record that is not a distribution is a ValueError."""
    with pytest.raises(ValueError, match="not a distribution"):
        distribution_from_json({"type": "normal"})


def test_check_compatible() -> None:
    """A changed range is compatible; another kind, log flag or choice list is not."""
    check_compatible("x", Float(0, 1), Float(-5, 5))
    check_compatible("n", Int(0, 1), Int(0, 10, step=2))
    for old, new in [(Float(0, 1), Int(0, 1)), (Float(0.1, 1), Float(0.1, 1, log=True)),
                     (Categorical(["a"]), Categorical(["a", "b"]))]:
        with pytest.raises(ValueError, match="'x'"):
            check_compatible("x", old, new)


class TestGridEdges:
    """Step grids at the limits of float64 (cases hypothesis found)."""

    def test_step_larger_than_the_range_lowers_high_to_low(self):
        """A step wider than the range leaves the single value `low`, with a warning."""
        with pytest.warns(hpopt.HpoptWarning):
            dist = hpopt.Float(0.5, 1.0, step=1e12)
        assert (dist.low, dist.high) == (0.5, 0.5) and dist.canonical(0.5) == 0.5

    @pytest.mark.parametrize("args", [(0.0, 1.0, 1e-300), (0.0, 1e300, 1e-3)])
    def test_grids_finer_than_2_53_points_are_refused(self, args):
        """More than 2**53 grid points cannot be told apart: ValueError naming the rule."""
        with pytest.raises(ValueError, match=r"2\*\*53"):
            hpopt.Float(args[0], args[1], step=args[2])

    def test_integers_beyond_2_53_are_refused(self):
        """Int bounds beyond 2**53 are not exact as floats: ValueError naming the rule."""
        with pytest.raises(ValueError, match=r"2\*\*53"):
            hpopt.Int(0, 2**60)

    def test_fine_steps_stay_exactly_on_the_grid(self):
        """Tidying never moves a value off a grid whose step has many significant digits."""
        dist = hpopt.Float(0.0, 106.0, step=1.192092896e-07)
        tf = hpopt.SpaceTransform({"p": dist})
        for u in np.linspace(0, 1, 101):
            value = tf.decode(np.array([u]))["p"]
            assert dist.contains(value) and dist.contains(dist.from_internal(value))

    def test_tidy_grid_values(self):
        """Grid values read 0.3, not 0.30000000000000004."""
        dist = hpopt.Float(0.0, 1.0, step=0.1)
        assert dist.from_internal(0.31) == 0.3 and dist.canonical(0.30000000000000004) == 0.3
