"""Tests of the shared unit-box transform (hpopt.SpaceTransform)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpopt
from hpopt import Categorical, Float, Int, SpaceTransform

SPACE = {
    "f": Float(-2.0, 3.0),
    "lf": Float(1e-4, 1.0, log=True),
    "sf": Float(0.0, 1.0, step=0.25),
    "i": Int(1, 5),
    "li": Int(1, 1000, log=True),
    "si": Int(0, 10, step=5),
    "c": Categorical(["a", None, 2, True, 0.5]),
}


@pytest.mark.parametrize("one_hot", [False, True])
def test_decode_gives_values_inside_their_distributions(one_hot):
    """Any point of the unit box decodes to valid values of every type."""
    tf = SpaceTransform(SPACE, one_hot=one_hot)
    rng = np.random.default_rng(0)
    for params in tf.decode_many(rng.random((200, tf.dim))):
        for name, dist in SPACE.items():
            assert dist.contains(params[name]), (name, params[name])


@pytest.mark.parametrize("one_hot", [False, True])
def test_encode_decode_round_trip(one_hot):
    """Encoding valid parameters and decoding them gives the same parameters back."""
    tf = SpaceTransform(SPACE, one_hot=one_hot)
    params = {"f": 0.5, "lf": 0.01, "sf": 0.75, "i": 3, "li": 17, "si": 5, "c": None}
    assert tf.decode(tf.encode(params)) == pytest.approx(params) or tf.decode(tf.encode(params)) == params
    back = tf.decode(tf.encode(params))
    assert back["c"] is None and back["i"] == 3 and back["li"] == 17 and back["sf"] == 0.75


def test_every_integer_gets_an_equal_cell():
    """Uniform points in the unit box give each integer of Int(1, 4) about a quarter of the mass."""
    tf = SpaceTransform({"i": Int(1, 4)})
    u = np.linspace(0, 1, 4001)[:, None]
    vals = tf.to_values(u)["i"]
    counts = np.bincount(vals.astype(int))[1:]
    assert counts.min() >= 990 and counts.max() <= 1010


def test_snap_is_idempotent_and_matches_decode():
    """snap() moves rows onto representable points; decoding snapped rows changes nothing."""
    tf = SpaceTransform(SPACE, one_hot=True)
    u = np.random.default_rng(1).random((50, tf.dim))
    snapped = tf.snap(u)
    assert np.allclose(tf.snap(snapped), snapped)
    assert tf.decode_many(snapped) == tf.decode_many(u)


def test_single_value_distribution_maps_to_its_value():
    """A one-value range decodes to that value wherever the point lies."""
    tf = SpaceTransform({"x": Float(2.0, 2.0), "n": Int(3, 3), "c": Categorical(["only"])})
    assert tf.decode(np.array([0.9, 0.1, 0.7])) == {"x": 2.0, "n": 3, "c": "only"}
    assert np.all(np.isfinite(tf.encode({"x": 2.0, "n": 3, "c": "only"})))


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(0, 1e6, allow_nan=False),
    u=st.floats(0, 1),
)
def test_float_decode_stays_in_range(low, width, u):
    """Decoding stays inside [low, high] for arbitrary finite ranges."""
    dist = Float(low, low + width)
    value = SpaceTransform({"x": dist}).decode(np.array([u]))["x"]
    assert dist.contains(value)


def test_transform_is_public():
    """The transform is part of the public API for plugin authors."""
    assert hpopt.SpaceTransform is SpaceTransform
