"""The Gaussian process and the log-EI acquisition of the ``gp`` sampler: numerics and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.special

from hpopt import Categorical, Float, Int, SpaceTransform
from hpopt.samplers.gp_acquisition import Acquisition, log_ei, log_h, log_h_grad, maximize
from hpopt.samplers.gp_model import GaussianProcess, matern52


def _data(n: int = 25, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    return X, np.sin(5 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, -1]


def test_interpolates_noise_free_data() -> None:
    X, y = _data()
    gp = GaussianProcess(deterministic=True).fit(X, y)
    mean, var = gp.predict(X)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    assert (var < 1e-4 * y.var()).all()
    # away from the data the variance grows
    _, far = gp.predict(np.full((1, 3), 3.0))
    assert far[0] > 100 * var.max()


def test_noise_is_fitted_on_noisy_data() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((60, 1))
    y = np.sin(6 * X[:, 0]) + 0.3 * rng.standard_normal(60)
    gp = GaussianProcess().fit(X, y)
    noise = gp.params["noise_variance"] * gp.params["y_std"] ** 2
    assert 0.02 < noise < 0.3  # the true noise variance is 0.09
    mean, _ = gp.predict(X)
    assert np.abs(mean - np.sin(6 * X[:, 0])).mean() < 0.2  # smooths rather than interpolates


def test_log_posterior_gradient_matches_finite_differences() -> None:
    X, y = _data(n=15, d=2)
    gp = GaussianProcess()
    sq = (X[:, None, :] - X[None, :, :]) ** 2
    ys = (y - y.mean()) / y.std()
    theta = np.array([-0.5, 0.3, 0.2, -3.0])
    f = lambda t: gp._neg_log_posterior(t, sq, ys)[0]  # noqa: E731
    num = scipy.optimize.approx_fprime(theta, f, 1e-6)
    np.testing.assert_allclose(gp._neg_log_posterior(theta, sq, ys)[1], num, rtol=1e-4, atol=1e-4)


def test_predictive_gradients_match_finite_differences() -> None:
    X, y = _data(n=20, d=3)
    gp = GaussianProcess().fit(X, y)
    P = np.random.default_rng(2).random((4, 3))
    mean, var, dm, dv = gp.predict_grad(P)
    m0, v0 = gp.predict(P)
    np.testing.assert_allclose(mean, m0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(var, v0, rtol=1e-6, atol=1e-12)
    eps = 1e-6
    for j in range(3):
        Q = P.copy()
        Q[:, j] += eps
        m1, v1 = gp.predict(Q)
        np.testing.assert_allclose((m1 - m0) / eps, dm[:, j], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose((v1 - v0) / eps, dv[:, j], rtol=1e-3, atol=1e-6)


def test_degenerate_data() -> None:
    gp = GaussianProcess().fit(np.empty((0, 2)), np.empty(0))  # zero points: the prior
    mean, var = gp.predict(np.zeros((3, 2)))
    assert np.isfinite(mean).all() and (var > 0).all()
    gp = GaussianProcess().fit(np.array([[0.3, 0.4]]), np.array([2.5]))  # one point
    mean, var = gp.predict(np.array([[0.3, 0.4], [0.9, 0.1]]))
    assert abs(mean[0] - 2.5) < 1e-6 and np.isfinite(var).all()
    X = np.tile([[0.2, 0.7]], (6, 1))  # duplicated points, different values
    gp = GaussianProcess(deterministic=True).fit(X, np.arange(6.0))
    mean, var = gp.predict(X[:1])
    assert np.isfinite(mean).all() and np.isfinite(var).all()
    X, _ = _data(n=10, d=2)
    gp = GaussianProcess().fit(X, np.full(10, 7.0))  # constant values
    mean, var = gp.predict(np.random.default_rng(0).random((5, 2)))
    np.testing.assert_allclose(mean, 7.0, atol=1e-6)
    assert np.isfinite(var).all()


def test_condition_shrinks_variance_and_keeps_mean() -> None:
    X, y = _data(n=12, d=2)
    gp = GaussianProcess(deterministic=True).fit(X, y)
    P = np.array([[0.5, 0.5]])
    m, v = gp.predict(P)
    gp2 = gp.condition(P, m)
    m2, v2 = gp2.predict(P)
    assert abs(m2[0] - m[0]) < 1e-6 and v2[0] < 0.05 * v[0]
    np.testing.assert_allclose(gp.predict(P)[1], v)  # the original model is unchanged


def test_bad_input_refused() -> None:
    with pytest.raises(ValueError, match="n_restarts"):
        GaussianProcess(n_restarts=0)
    with pytest.raises(ValueError, match="noise_floor"):
        GaussianProcess(noise_floor=-1.0)
    with pytest.raises(ValueError, match="finite"):
        GaussianProcess().fit(np.zeros((2, 1)), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="X"):
        GaussianProcess().fit(np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(RuntimeError, match="fit"):
        GaussianProcess().predict(np.zeros((1, 1)))


def test_matern_kernel_values() -> None:
    x = np.array([[0.0]])
    assert matern52(x, x, np.array([1.0]), 2.0)[0, 0] == pytest.approx(2.0)
    r = 0.7
    k = matern52(x, np.array([[r]]), np.array([1.0]), 1.0)[0, 0]
    s5 = math.sqrt(5)
    assert k == pytest.approx((1 + s5 * r + 5 * r * r / 3) * math.exp(-s5 * r))


# -- log EI ----------------------------------------------------------------------------------------
def test_log_h_matches_naive_where_it_does_not_underflow() -> None:
    z = np.linspace(-25, 5, 301)
    naive = np.log(scipy.special.ndtr(z) * z + np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    ok = np.isfinite(naive) & (z > -20)  # the naive form loses digits by cancellation below
    np.testing.assert_allclose(log_h(z[ok]), naive[ok], rtol=1e-6, atol=1e-9)


def test_log_h_finite_and_monotone_where_ei_underflows() -> None:
    z = -np.logspace(0, 12, 400)[::-1]  # -1e12 ... -1
    naive_ei = scipy.special.ndtr(z) * z + np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    assert (naive_ei[z < -40] == 0).all()  # the naive EI underflows there ...
    v = log_h(z)
    assert np.isfinite(v).all()  # ... log h stays finite
    assert (np.diff(v) > 0).all()  # and strictly increasing in z
    # the pieces join: no jump at z = -1 or at the asymptotic switch
    for z0 in (-1.0, -1.0 / math.sqrt(np.finfo(float).eps)):
        a, b = log_h(np.array([z0 * (1 + 1e-9), z0 * (1 - 1e-9)]))
        assert abs(a - b) < 1e-6 * max(1.0, abs(a))


def test_log_h_gradient() -> None:
    z = np.array([-1e4, -300.0, -30.0, -5.0, -1.0001, -0.9999, 0.0, 3.0])
    eps = 1e-6 * np.maximum(1.0, np.abs(z))
    num = (log_h(z + eps) - log_h(z - eps)) / (2 * eps)
    np.testing.assert_allclose(log_h_grad(z), num, rtol=1e-4)


def test_log_ei_and_acquisition_gradient() -> None:
    X, y = _data(n=15, d=2)
    gp = GaussianProcess().fit(X, y)
    cgp = GaussianProcess().fit(X, X[:, 0] - 0.5)
    acq = Acquisition(gp, float(y.min()), [cgp])
    P = np.random.default_rng(3).random((5, 2))
    v, g = acq.value_and_grad(P)
    np.testing.assert_allclose(v, acq(P), rtol=1e-8)
    eps = 1e-6
    for j in range(2):
        Q = P.copy()
        Q[:, j] += eps
        np.testing.assert_allclose((acq(Q) - v) / eps, g[:, j], rtol=1e-3, atol=1e-4)
    mean, var = gp.predict(P)
    assert np.isfinite(log_ei(mean, var, float(y.min()) - 1e6)).all()  # hopeless target: finite


def test_maximize_respects_discrete_columns() -> None:
    tf = SpaceTransform({"x": Float(0, 1), "n": Int(0, 4), "c": Categorical(["a", "b", "c"])}, one_hot=True)
    target = tf.encode({"x": 0.37, "n": 3, "c": "b"})

    def acq(Z: np.ndarray) -> np.ndarray:
        return -((Z - target) ** 2).sum(axis=1)

    def acq_grad(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return acq(Z), -2 * (Z - target)

    x = maximize(acq, acq_grad, tf.dim, tf.snap, ~tf.discrete, np.random.default_rng(0), n_candidates=256)
    np.testing.assert_allclose(tf.snap(x)[0], x)  # on the grid
    params = tf.decode(x)
    assert params["n"] == 3 and params["c"] == "b" and abs(params["x"] - 0.37) < 1e-4
