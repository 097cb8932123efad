"""Statistical components of TPE: the unit box and the Parzen estimators (hpopt.samplers.parzen)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpopt import Categorical, Float, Int
from hpopt.samplers import parzen
from hpopt.samplers.parzen import CAT, CONT, DISC, FIXED, Box, ParzenEstimator

MIXED = {
    "n": Int(1, 4),
    "l": Int(1, 20, log=True),
    "c": Categorical(["a", "b", "c"]),
    "s": Float(0.0, 1.0, step=0.25),
    "f": Int(3, 3),
}


def _discrete_grid(box: Box) -> np.ndarray:
    return box.from_keys(np.arange(box.size))


def _mass(pe: ParzenEstimator, continuous: int, discrete: np.ndarray | None, m: int = 80) -> float:
    """Midpoint-rule integral over the continuous columns (placed first) times the discrete sum."""
    g = (np.arange(m) + 0.5) / m
    mesh = np.stack(np.meshgrid(*[g] * continuous, indexing="ij"), -1).reshape(-1, continuous)
    if discrete is None:
        return float(np.exp(pe.log_pdf(mesh)).sum() / m**continuous)
    rows = np.hstack([np.repeat(mesh, len(discrete), 0), np.tile(discrete, (len(mesh), 1))])
    return float(np.exp(pe.log_pdf(rows)).sum() / m**continuous)


class TestBox:
    def test_discrete_round_trip(self):
        """Keys of every discrete configuration decode back to the same keys."""
        box = Box(MIXED)
        keys = np.arange(box.size)
        assert box.size == 4 * 20 * 3 * 5 * 1
        np.testing.assert_array_equal(box.keys(box.from_keys(keys)), keys)

    def test_cells_tile_the_unit_interval(self):
        """The cells of a discrete column's values cover [0, 1] without gaps or overlaps."""
        for dist in (Int(1, 4), Int(1, 20, log=True), Float(0, 1, step=0.25), Int(-6, 6, step=3)):
            box = Box({"v": dist})
            a, b = box.cells(box.from_keys(np.arange(box.size)))
            assert a[0, 0] == pytest.approx(0.0) and b[-1, 0] == pytest.approx(1.0)
            np.testing.assert_allclose(a[1:, 0], b[:-1, 0])

    def test_decode_gives_valid_values(self):
        """Decoding any unit row gives values inside every distribution."""
        box = Box({**MIXED, "x": Float(1e-3, 1.0, log=True)})
        for u in np.random.default_rng(0).random((50, box.dim)):
            params = box.decode(u)
            assert all(box.space[k].contains(v) for k, v in params.items())

    def test_normalize_clips_changed_ranges(self):
        """Observations outside a (narrowed) range are clipped onto its edge and flagged outside."""
        box = Box({"x": Float(0.0, 1.0), "n": Int(0, 10)})
        x = np.array([[2.0, 15.0], [0.5, 3.0]])
        u = box.normalize(x)
        assert u.min() >= 0.0 and u.max() <= 1.0
        np.testing.assert_array_equal(box.inside(x), [False, True])


class TestEstimatorIntegratesToOne:
    @pytest.mark.parametrize("joint", [True, False])
    @pytest.mark.parametrize("n_obs", [0, 1, 2, 7])
    def test_continuous_2d(self, joint, n_obs):
        """Truncated Gaussian mixture plus prior integrates to one over the unit square."""
        box = Box({"x": Float(0, 1), "y": Float(-3, 3)})
        obs = np.random.default_rng(n_obs).random((n_obs, 2))
        obs[:1] = [0.0, 1.0]  # kernels at the edges are truncated
        pe = ParzenEstimator(box, obs[:n_obs], joint=joint)
        assert _mass(pe, 2, None, m=200) == pytest.approx(1.0, abs=2e-3)

    @pytest.mark.parametrize("joint", [True, False])
    def test_discrete_mass_sums_to_one(self, joint):
        """Kernels integrated over each value's cell give a mass function summing to one."""
        box = Box(MIXED)
        obs = box.snap(np.random.default_rng(3).random((6, box.dim)))
        pe = ParzenEstimator(box, obs, joint=joint)
        total = np.exp(pe.log_pdf(_discrete_grid(box))).sum()
        assert total == pytest.approx(1.0, abs=1e-9)

    def test_mixed_space(self):
        """A continuous column together with discrete ones still integrates to one."""
        space = {"x": Float(0, 1), **MIXED}
        box = Box(space)
        obs = box.snap(np.random.default_rng(4).random((5, box.dim)))
        pe = ParzenEstimator(box, obs)
        assert _mass(pe, 1, _discrete_grid(Box(MIXED)), m=400) == pytest.approx(1.0, abs=2e-3)

    def test_samples_follow_the_density(self):
        """Sample frequencies of a discrete estimator match its mass function."""
        box = Box({"n": Int(0, 5), "c": Categorical(["a", "b"])})
        obs = box.snap(np.array([[0.1, 0.2], [0.9, 0.8], [0.5, 0.2]]))
        pe = ParzenEstimator(box, obs)
        draws = pe.sample(np.random.default_rng(0), 60_000)
        freq = np.bincount(box.keys(draws), minlength=box.size) / len(draws)
        mass = np.exp(pe.log_pdf(_discrete_grid(box)))
        np.testing.assert_allclose(freq, mass, atol=0.01)


class TestBandwidth:
    def test_one_observation(self):
        """One observation gives a finite, positive bandwidth shrunk from the prior's spread."""
        pe = ParzenEstimator(Box({"x": Float(0, 1)}), np.array([[0.3]]))
        assert 0.05 < pe.sigma[0] < 0.3

    def test_identical_observations(self):
        """Identical values never give a zero bandwidth."""
        pe = ParzenEstimator(Box({"x": Float(0, 1)}), np.full((50, 1), 0.7))
        assert pe.sigma[0] >= 1e-3
        assert np.isfinite(pe.log_pdf(np.array([[0.7], [0.0]]))).all()

    def test_two_observations_wider_apart_give_wider_kernels(self):
        """The bandwidth grows with the observations' spread."""
        box = Box({"x": Float(0, 1)})
        near = ParzenEstimator(box, np.array([[0.5], [0.52]]))
        far = ParzenEstimator(box, np.array([[0.1], [0.9]]))
        assert far.sigma[0] > near.sigma[0] > 0

    def test_shrinks_with_more_observations(self):
        """More observations from the same spread give a narrower kernel (Scott's rule)."""
        box = Box({"x": Float(0, 1)})
        rng = np.random.default_rng(0)
        few = ParzenEstimator(box, rng.normal(0.5, 0.1, (5, 1)).clip(0, 1))
        many = ParzenEstimator(box, rng.normal(0.5, 0.1, (500, 1)).clip(0, 1))
        assert many.sigma[0] < few.sigma[0]

    def test_min_bandwidth_floor(self):
        """The bandwidth is never below ``min_bandwidth``."""
        pe = ParzenEstimator(Box({"x": Float(0, 1)}), np.full((1000, 1), 0.2), min_bandwidth=0.05)
        assert pe.sigma[0] == pytest.approx(0.05)


class TestCategorical:
    def test_smoothing_spreads_mass(self):
        """An observed choice gets most mass; unobserved ones keep a positive share."""
        box = Box({"c": Categorical(["a", "b", "c", "d"])})
        pe = ParzenEstimator(box, np.array([[0.125]]))  # choice "a"
        p = np.exp(pe.log_pdf(_discrete_grid(box)))
        assert p.sum() == pytest.approx(1.0)
        assert p[0] > 2 * p[1] and np.all(p[1:] > 0.05)
        np.testing.assert_allclose(p[1:], p[1])

    def test_larger_bandwidth_is_smoother(self):
        """Raising the categorical bandwidth moves mass from the observed choice to the others."""
        box = Box({"c": Categorical(["a", "b", "c"])})
        obs = np.array([[1 / 6]] * 3)
        sharp = np.exp(ParzenEstimator(box, obs, categorical_bandwidth=0.05).log_pdf([[1 / 6]]))
        smooth = np.exp(ParzenEstimator(box, obs, categorical_bandwidth=0.9).log_pdf([[1 / 6]]))
        assert sharp[0] > smooth[0] > 1 / 3

    def test_prior_only(self):
        """Without observations the estimator is the uniform prior."""
        box = Box({"c": Categorical(["a", "b", "c"])})
        p = np.exp(ParzenEstimator(box, np.empty((0, 1))).log_pdf(_discrete_grid(box)))
        np.testing.assert_allclose(p, 1 / 3)


def _brute_log_pdf(box: Box, pe: ParzenEstimator, obs: np.ndarray, u: np.ndarray, w0: float,
                   weights=None):
    """Plain-loop reference: scipy truncated normals, cell integrals, categorical smoothing."""
    from scipy.stats import norm, truncnorm

    num = list(box.cont) + list(box.disc)
    disc = list(box.disc)
    n = obs.shape[0]
    w = np.array(list(np.ones(n) if weights is None else weights) + [w0])
    w /= w.sum()

    def cell(col, v):
        row = np.full((1, box.dim), 0.5)
        row[0, col] = v
        a, b = box.cells(row)
        return a[0, disc.index(col)], b[0, disc.index(col)]

    def kern(col, v, i_obs):
        mu = obs[i_obs, col]
        if box.kind[col] == CAT:
            k = int(box.n_values[col])
            same = int(np.floor(v * k)) == int(np.floor(mu * k))
            return (1 - pe.cat_b) * same + pe.cat_b / k
        s = float(pe.sig_obs[i_obs, num.index(col)])
        if box.kind[col] == CONT:
            return float(truncnorm.pdf(v, -mu / s, (1 - mu) / s, loc=mu, scale=s))
        a, b = cell(col, v)
        z = norm.cdf((1 - mu) / s) - norm.cdf(-mu / s)
        return float((norm.cdf((b - mu) / s) - norm.cdf((a - mu) / s)) / z)

    def prior(col, v):
        if box.kind[col] == CAT:
            return 1.0 / int(box.n_values[col])
        if box.kind[col] == DISC:
            a, b = cell(col, v)
            return min(b, 1.0) - max(a, 0.0)
        return 1.0

    cols = [c for c in range(box.dim) if box.kind[c] != FIXED]
    out = []
    for row in u:
        if pe.joint:
            p = sum(w[i] * math.prod(kern(c, row[c], i) for c in cols) for i in range(n))
            p += w[-1] * math.prod(prior(c, row[c]) for c in cols)
        else:
            p = math.prod(
                sum(w[i] * kern(c, row[c], i) for i in range(n)) + w[-1] * prior(c, row[c])
                for c in cols
            )
        out.append(math.log(p))
    return np.array(out)


class TestAgainstBruteForce:
    SPACE = {
        "x": Float(-2.0, 3.0),
        "lx": Float(1e-3, 1.0, log=True),
        **MIXED,
    }

    @pytest.mark.parametrize("joint", [True, False])
    @pytest.mark.parametrize("prior_weight", [1.0, 2.5])
    @pytest.mark.parametrize("neighbour", [False, True])
    def test_log_pdf_matches_plain_loops(self, joint, prior_weight, neighbour):
        """Vectorized log densities equal a loop-by-loop mixture of scipy truncated normals."""
        box = Box(self.SPACE)
        rng = np.random.default_rng(11)
        obs = box.snap(rng.random((5, box.dim)))
        weights = np.array([0.2, 1.0, 0.5, 1.0, 0.7]) if neighbour else None
        pe = ParzenEstimator(
            box, obs, joint=joint, prior_weight=prior_weight, neighbour=neighbour, weights=weights
        )
        cand = box.snap(np.vstack([rng.random((9, box.dim)), obs[:2]]))
        ref = _brute_log_pdf(box, pe, obs, cand, prior_weight, weights)
        np.testing.assert_allclose(pe.log_pdf(cand), ref, rtol=1e-9, atol=1e-9)

    def test_continuous_draws_follow_the_truncated_mixture(self):
        """Continuous draws pass a KS test against the truncated-normal mixture plus prior."""
        from scipy.stats import kstest, truncnorm

        box = Box({"x": Float(0.0, 1.0)})
        obs = np.array([[0.02], [0.1], [0.95]])  # near the edges: truncation matters
        pe = ParzenEstimator(box, obs, prior_weight=1.0)
        s = float(pe.sigma[0])
        draws = pe.sample(np.random.default_rng(5), 20_000)[:, 0]

        def cdf(x):
            parts = [truncnorm.cdf(x, -m / s, (1 - m) / s, loc=m, scale=s) for m in obs[:, 0]]
            return (sum(parts) + np.clip(x, 0, 1)) / 4.0

        assert kstest(draws, cdf).pvalue > 1e-3


class TestNeighbourBandwidth:
    def test_larger_gap_to_either_neighbour(self):
        """Each continuous kernel's bandwidth is its larger gap to a neighbour (edges count)."""
        box = Box({"x": Float(0.0, 1.0)})
        pe = ParzenEstimator(box, np.array([[0.1], [0.4], [0.9]]), neighbour=True)
        np.testing.assert_allclose(pe.sig_obs[:, 0], [0.3, 0.5, 0.5])

    def test_floor_shrinks_with_n(self):
        """Bandwidths are clipped below at ``1 / min(100, n + 1)`` (identical values included)."""
        box = Box({"x": Float(0.0, 1.0)})
        pe = ParzenEstimator(box, np.full((9, 1), 0.5), neighbour=True)
        assert pe.sig_obs[:, 0].min() == pytest.approx(0.1)
        many = ParzenEstimator(box, np.random.default_rng(0).random((500, 1)), neighbour=True)
        assert many.sig_obs.min() == pytest.approx(0.01)

    def test_integrates_to_one(self):
        """A neighbour-bandwidth, weighted estimator is still a density."""
        box = Box({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
        obs = np.random.default_rng(2).random((7, 2))
        pe = ParzenEstimator(box, obs, neighbour=True, weights=np.linspace(0.1, 1.0, 7))
        assert _mass(pe, 2, None, m=300) == pytest.approx(1.0, abs=2e-3)

    def test_weights_move_mass(self):
        """A heavier observation gets more of the density than a lighter one."""
        box = Box({"x": Float(0.0, 1.0)})
        obs = np.array([[0.2], [0.8]])
        pe = ParzenEstimator(box, obs, weights=np.array([0.1, 1.0]))
        lo, hi = pe.log_pdf(obs)
        assert hi > lo + 0.5  # equal weights give equal values (symmetric layout)


class TestGather:
    @pytest.mark.parametrize("n_rows", [3, 24])  # fewer table rows than candidates, and as many
    def test_equals_fancy_indexing(self, n_rows):
        """Both gather orders give ``table[rows[:, None], cols[None, :]]``."""
        rng = np.random.default_rng(0)
        table = rng.random((n_rows, 50))
        rows = rng.integers(0, n_rows, 24)
        cols = rng.integers(0, 50, 300)
        np.testing.assert_array_equal(
            parzen._gather(table, rows, cols), table[rows[:, None], cols[None, :]]
        )
