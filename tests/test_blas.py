"""single_blas_thread: BLAS on one thread inside the block, the previous setting restored after."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads scipy's BLAS so that threadpoolctl sees it)

from hpopt._blas import single_blas_thread

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    if not _blas_threads() or max(_blas_threads()) < 2:
        pytest.skip("BLAS already runs on one thread here: nothing to observe")


def test_one_thread_inside_restored_after(two_threads) -> None:
    before = _blas_threads()
    with single_blas_thread():
        assert set(_blas_threads()) == {1}
        with single_blas_thread():  # nested: still one, and the outer block is not undone
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before


def test_restored_after_an_exception(two_threads) -> None:
    before = _blas_threads()
    with pytest.raises(ZeroDivisionError), single_blas_thread():
        1 / 0  # noqa: B018
    assert _blas_threads() == before


def test_a_thread_leaving_early_does_not_undo_the_limit(two_threads) -> None:
    before = _blas_threads()
    with single_blas_thread():

        def work() -> None:
            with single_blas_thread():
                np.linalg.cholesky(np.eye(3))

        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert set(_blas_threads()) == {1}  # the other block ended; this one still holds the limit
    assert _blas_threads() == before
