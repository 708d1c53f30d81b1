"""The shared numerical helpers, and the memory-bounding block loops, which small tasks never split."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import fennec.metrics._gbc
import fennec.metrics._knn
import fennec.metrics._lapack
import fennec.metrics._linalg
import fennec.metrics._nleep
from _metric_tasks import make_task
from fennec import metrics
from fennec.metrics._lapack import (Tridiagonal, cholesky_solve_lower, gram_lower, matmul, mirror_lower,
                                    reduction_blas, widened_row_blocks)
from fennec.metrics._linalg import class_blocks, gram, gram_blocks, spd_solve
from fennec.metrics._validation import prepare


def test_spd_solve_uses_cholesky_when_it_can():
    a = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    torch.testing.assert_close(spd_solve(a, b), torch.linalg.solve(a, b))


def test_spd_solve_falls_back_to_the_pseudo_inverse_when_singular():
    v = torch.tensor([[1.0], [2.0], [2.0]], dtype=torch.float64)
    a = v @ v.T  # rank one: Cholesky fails
    b = torch.tensor([[3.0], [6.0], [6.0]], dtype=torch.float64)
    torch.testing.assert_close(spd_solve(a, b), torch.linalg.pinv(a) @ b)


def test_class_blocks_hold_each_class_rows_in_order():
    x, y = make_task(n=30, d=4, c=3)
    x_t, lab = prepare(x, y, metric="test", device=None, dtype=torch.float64)
    blocks = list(class_blocks(x_t, lab, max_elements=50))  # n_max * D = 40 elements: one class per block
    assert len(blocks) == 3
    for part, block in blocks:
        for j, c in enumerate(range(part.start, part.stop)):
            rows = x[lab.codes.numpy() == c]
            np.testing.assert_array_equal(block[j, : len(rows)].numpy(), rows)
            assert not block[j, len(rows):].any()


@pytest.mark.parametrize("module, name", [(fennec.metrics._knn, "knn"), (fennec.metrics._gbc, "gbc"),
                                          (fennec.metrics._nleep, "nleep")])
def test_splitting_into_blocks_does_not_change_the_score(monkeypatch, module, name):
    x, y = make_task(n=60, d=5, c=4)
    whole = metrics.get(name)(x, y)
    monkeypatch.setattr(module, "MAX_BLOCK_ELEMENTS", 64)
    assert metrics.get(name)(x, y) == pytest.approx(whole, rel=1e-12)


def test_transrate_in_blocks_of_one_class(monkeypatch):
    x, y = make_task(n=60, d=5, c=4)
    whole = metrics.transrate(x, y)
    monkeypatch.setattr(fennec.metrics._linalg, "MAX_BLOCK_ELEMENTS", 1)
    assert metrics.transrate(x, y) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("d", [100, 700, 2100])  # one block, 2 blocks, 8 blocks
@pytest.mark.parametrize("route", [gram, gram_blocks])  # SciPy's syrk (the CPU), torch's blocks (GPUs)
def test_gram_equals_the_full_product_and_is_symmetric(d, route):
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(50, d)))
    g = route(x)
    torch.testing.assert_close(g, x.T @ x, rtol=1e-12, atol=1e-10)
    assert torch.equal(g, g.T)


def test_cpu_cholesky_solve_falls_back_to_the_pseudo_inverse_like_spd_solve():
    v = np.array([[1.0], [2.0], [2.0]])
    a, b = v @ v.T, np.array([[3.0], [6.0], [6.0]])  # rank one: Cholesky fails
    expected = spd_solve(torch.as_tensor(a), torch.as_tensor(b)).numpy()
    np.testing.assert_allclose(cholesky_solve_lower(np.asfortranarray(np.tril(a)), b), expected, rtol=1e-12)
    spd = a + np.eye(3)
    np.testing.assert_allclose(cholesky_solve_lower(np.asfortranarray(np.tril(spd)), b), np.linalg.solve(spd, b))


@pytest.mark.parametrize("shift", [1e-3, -1e-9])  # positive definite (?ptsv) and indefinite (?gtsv)
def test_shifted_tridiagonal_solves_equal_dense_solves(shift):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 6))
    g = x.T @ x
    tri = Tridiagonal.reduce(gram_lower(x))
    assert np.allclose(np.sort(tri.eigvalsh()), np.linalg.eigvalsh(g))
    b = rng.normal(size=(6, 3))
    shifts = np.array([shift, 1.0, 10.0])
    q_t_b = tri.rotate(b)
    solved = tri.solve_shifted(shifts, q_t_b)
    for j, t in enumerate(shifts):  # |Q^T (G + tI)^{-1} b| = |(T + tI)^{-1} Q^T b| and the same b^T (G + tI)^-1 b
        dense = np.linalg.solve(g + t * np.eye(6), b[:, j])
        assert np.linalg.norm(solved[j]) == pytest.approx(np.linalg.norm(dense), rel=1e-9)
        assert solved[j] @ q_t_b[:, j] == pytest.approx(dense @ b[:, j], rel=1e-9)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-3)])
def test_rotate_applies_the_reduction_s_orthogonal_transform(dtype, rtol):
    # m = 200 > 64 rows: ?ormtr's blocked path (the one that needs the extra workspace) is the one exercised
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 200)).astype(dtype)
    g = (x.T @ x).astype(np.float64)
    tri = Tridiagonal.reduce(gram_lower(x))
    t = np.diag(tri.diag) + np.diag(tri.offdiag, 1) + np.diag(tri.offdiag, -1)
    b = rng.normal(size=(200, 5))
    q_t_b = tri.rotate(b)
    assert q_t_b.dtype == dtype and q_t_b.flags.f_contiguous
    np.testing.assert_allclose(np.linalg.norm(q_t_b, axis=0), np.linalg.norm(b, axis=0), rtol=rtol)
    scale = np.abs(t).max() * np.abs(b).max()  # Q^T G b = T Q^T b
    np.testing.assert_allclose(tri.rotate(g @ b) / scale, t @ q_t_b / scale, atol=rtol)


@pytest.mark.parametrize("order", ["C", "F"])
def test_widened_row_blocks_cover_the_rows_in_order_and_add_up_to_the_gram(monkeypatch, order):
    monkeypatch.setattr(fennec.metrics._lapack, "_WIDEN_MIN_ROWS", 7)
    monkeypatch.setattr(fennec.metrics._lapack, "_WIDEN_BLOCK_ELEMENTS", 1)
    x = np.asarray(np.random.default_rng(5).normal(size=(30, 6)), dtype=np.float32, order=order)
    g, seen = None, []
    for rows, block in widened_row_blocks(x, np.float64):
        assert block.dtype == np.float64
        np.testing.assert_array_equal(block, x[rows])
        seen.extend(range(rows.start, rows.stop))
        g = gram_lower(block, add_to=g)
    assert seen == list(range(30))
    np.testing.assert_allclose(mirror_lower(g), x.T.astype(np.float64) @ x, rtol=1e-12)
    same = list(widened_row_blocks(x.astype(np.float64), np.float64))  # nothing to widen: the array itself
    assert len(same) == 1 and same[0][0] == slice(0, 30)


@pytest.mark.parametrize("targets", ["classes", "real"])
def test_logme_of_float32_features_widened_in_blocks_equals_logme_of_their_float64_copy(monkeypatch, targets):
    x, y = make_task(n=120, d=10, c=4)
    x32 = x.astype(np.float32)
    labels = y if targets == "classes" else np.random.default_rng(6).normal(size=(120, 3))
    whole = metrics.logme(x32.astype(np.float64), labels)
    monkeypatch.setattr(fennec.metrics._lapack, "_WIDEN_MIN_ROWS", 25)  # 5 blocks
    assert metrics.logme(x32, labels) == pytest.approx(whole, rel=1e-12)
    assert metrics.logme(torch.from_numpy(x32), labels) == pytest.approx(whole, rel=1e-12)


def test_gram_lower_reads_either_memory_order_without_changing_the_input():
    x = np.random.default_rng(0).normal(size=(40, 7))
    for a in (x, np.asfortranarray(x)):
        before = a.copy()
        for of_columns, full in ((True, x.T @ x), (False, x @ x.T)):
            np.testing.assert_allclose(mirror_lower(gram_lower(a, of_columns=of_columns)), full, rtol=1e-12)
        assert np.array_equal(a, before)


@pytest.mark.parametrize("transpose_a", [False, True])
def test_matmul_reads_either_memory_order_without_changing_the_input(transpose_a):
    rng = np.random.default_rng(1)
    x, b = rng.normal(size=(30, 6)), rng.normal(size=(30 if transpose_a else 6, 4))
    for a in (x, np.asfortranarray(x)):
        before = a.copy()
        np.testing.assert_allclose(matmul(a, b, transpose_a=transpose_a), (x.T if transpose_a else x) @ b,
                                   rtol=1e-12)
        assert np.array_equal(a, before)


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_reductions_run_on_one_thread_while_other_work_holds_the_cores(monkeypatch):
    monkeypatch.setattr(fennec.metrics._lapack, "_runnable_threads", lambda: 1 << 30)
    with threadpool_limits(2, user_api="blas"):
        with reduction_blas():
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}  # restored


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_reductions_keep_blas_threads_while_the_cores_are_free(monkeypatch):
    monkeypatch.setattr(fennec.metrics._lapack, "_runnable_threads", lambda: 1)
    with threadpool_limits(2, user_api="blas"):
        with reduction_blas():
            assert _blas_threads() == {2}
