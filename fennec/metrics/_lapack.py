"""The metrics' CPU route: SciPy's BLAS and LAPACK called directly, and how they share the machine's threads.

On the CPU the heavy steps of LogME and SFDA (the Gram matrix, a tridiagonal reduction, Cholesky solves, the
per-sample logits) run here instead of through torch, for two measured reasons (``benchmarks/bench_metrics.py``):

- speed of the kernels: torch's CPU BLAS is MKL, which on AMD processors runs a generic code path (a float64
  ``X^T X`` in 2x the time of OpenBLAS's ``?syrk``), and torch's row gathers and dtype casts of an (N, D) array take
  3-5x NumPy's time;
- threads: interleaving torch's OpenMP pool, NumPy's OpenBLAS and SciPy's OpenBLAS makes three pools take turns on
  the same cores, each spinning while the next one works. Everything here goes through SciPy's OpenBLAS only.
  Only the large level-3 products (``?syrk``, ``?gemm``) use the threads BLAS is allowed; the reductions whose
  work is mostly matrix-vector products with a barrier per column (``?sytrd``, ``?potrf``) run in
  :func:`reduction_blas`: on several threads only while the cores are free, since on a machine whose cores are
  busy with other work a barrier waits for a descheduled thread and the parallel reduction took 5x the
  single-threaded one.

Every array function takes and returns NumPy arrays of one floating dtype (float32 or float64); the LAPACK
prefix (``s``/``d``) follows it. Inputs are never written to.
"""
from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg.cython_lapack
import scipy.sparse
import torch
from scipy.linalg import get_blas_funcs, get_lapack_funcs

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

__all__ = ["use_lapack", "reduction_blas", "gram_lower", "widened_row_blocks", "matmul", "mirror_lower", "class_sums",
           "row_sums_lower", "Tridiagonal", "cholesky_solve_lower"]

_controller = None  # threadpoolctl's view of the loaded BLAS libraries, built on first use
# widened_row_blocks: about 8 MiB of float64 per block, and enough rows that each block's ?syrk keeps BLAS's
# kernel efficient (a ?syrk update of a few hundred rows re-reads the D x D result for little work).
_WIDEN_BLOCK_ELEMENTS = 1 << 20
_WIDEN_MIN_ROWS = 1024


def use_lapack(x: torch.Tensor) -> bool:
    """Whether ``x`` (validated features) takes the CPU route: a CPU tensor of at least 2 x 2."""
    return x.device.type == "cpu" and min(x.shape) >= 2


@contextmanager
def reduction_blas() -> Iterator[None]:
    """Run the enclosed reductions (``?sytrd``, ``?potrf``) on BLAS's threads only while that many cores are free.

    A reduction synchronises its threads once per column. On an idle machine two threads took 0.6x the time of one
    (``?sytrd`` of 1,024 x 1,024); when other work held the cores, a barrier waited for a descheduled thread and the
    parallel reduction took 5x. So the block runs on one thread unless the kernel's count of runnable threads
    (``/proc/loadavg``, an instant figure: the load averages lag by a minute and count our own threads) is at most
    BLAS's thread count, i.e. nothing but this process (its caller and BLAS's workers, which spin for a moment after
    a product) wants the cores. Where that count cannot be read, one thread. The thread counts are restored on exit.
    """
    controller = _blas_controller()
    threads = max((lib["num_threads"] for lib in controller.select(user_api="blas").info()), default=1)
    if threads > 1 and _runnable_threads() <= min(threads, len(os.sched_getaffinity(0))):
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def _blas_controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS libraries, built on first use (it inspects every loaded library)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def _runnable_threads() -> int:
    """Threads the kernel has runnable right now, machine-wide (the caller included); a large number if unknown."""
    try:
        with open("/proc/loadavg") as fh:
            return int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 1 << 30


@functools.cache
def _cython_lapack(routine: str) -> Callable[..., None]:
    """A LAPACK routine that SciPy exports to Cython (``scipy.linalg.cython_lapack``) but not to Python.

    The capsule holds the routine's address in SciPy's own LAPACK (its OpenBLAS, 32-bit integers); the ctypes
    function takes every argument by pointer, as Fortran does, and releases the GIL during the call. Through it an
    array is passed by address with its own leading dimension, which SciPy's Python wrappers cannot (they copy any
    sub-matrix into a contiguous array first).
    """
    capsule = scipy.linalg.cython_lapack.__pyx_capi__[routine]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None)(address)


def _by_ref(*values: bytes | int) -> list[ctypes._CArgObject]:
    """Fortran's by-reference arguments: a character (bytes) or a 32-bit integer each."""
    return [ctypes.byref(ctypes.c_char(v) if isinstance(v, bytes) else ctypes.c_int(v)) for v in values]


def _prefix(a: np.ndarray) -> str:
    """LAPACK's type prefix of a float32 or float64 array."""
    return {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}[a.dtype]


def _check(info: int, routine: str) -> None:
    if info != 0:
        raise RuntimeError(f"LAPACK's ?{routine} failed (info={info}).")


def gram_lower(a: np.ndarray, *, of_columns: bool = True, add_to: np.ndarray | None = None) -> np.ndarray:
    """``a^T a`` (``of_columns``) or ``a a^T`` by one ``?syrk``: the lower triangle, Fortran-ordered; the strict
    upper triangle is zero. With ``add_to`` (such a triangle, of ``a``'s dtype) the product is added into it in
    place and it is returned.

    ``?syrk`` computes ``A A^T`` (trans=0) or ``A^T A`` (trans=1) of a Fortran-ordered A; the view of ``a`` that is
    Fortran-ordered already is used, so that the (N, D) features are not copied.
    """
    if a.flags.f_contiguous:
        mat, trans = a, int(of_columns)
    else:
        mat, trans = np.ascontiguousarray(a).T, int(not of_columns)
    syrk, = get_blas_funcs(("syrk",), (mat,))
    if add_to is None:
        return syrk(1.0, mat, trans=trans, lower=1)
    return syrk(1.0, mat, trans=trans, lower=1, beta=1.0, c=add_to, overwrite_c=1)


def widened_row_blocks(a: np.ndarray, dtype: np.dtype) -> Iterator[tuple[slice, np.ndarray]]:
    """``a``'s rows in blocks, as ``dtype``: ``(rows, block)`` pairs; ``a`` itself, once, when it has that dtype.

    Float32 features scored in float64 are widened a block at a time into one reused buffer of about
    ``_WIDEN_BLOCK_ELEMENTS`` (8 MiB), instead of into an (N, D) copy: a fresh copy's pages cost the kernel as much
    time to zero as the widening itself, and each block is used (``?syrk``, class sums) while it is in cache. A
    block is only valid until the next one is yielded.
    """
    dtype = np.dtype(dtype)
    n, d = a.shape
    if a.dtype == dtype:
        yield slice(0, n), a
        return
    step = min(n, max(_WIDEN_MIN_ROWS, _WIDEN_BLOCK_ELEMENTS // d))
    buffer = np.empty((step, d), dtype=dtype)
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        block = buffer[:rows.stop - start]
        np.copyto(block, a[rows])
        yield rows, block


def matmul(a: np.ndarray, b: np.ndarray, *, transpose_a: bool = False) -> np.ndarray:
    """``a @ b`` (or ``a.T @ b``) by one ``?gemm``, without copying ``a``.

    SciPy's wrappers copy a C-ordered matrix into Fortran order first: for the (N, D) features that copy cost as
    much as the product itself (N=5,000, D=1,024, 50 columns). A C-ordered ``a`` is passed as its Fortran-ordered
    transpose with the transposition flag flipped instead; ``b`` is small and may be copied.
    """
    if a.flags.f_contiguous:
        mat, trans = a, int(transpose_a)
    else:
        mat, trans = np.ascontiguousarray(a).T, int(not transpose_a)
    gemm, = get_blas_funcs(("gemm",), (mat,))
    return gemm(1.0, mat, b, trans_a=trans)


def mirror_lower(g: np.ndarray) -> np.ndarray:
    """The full symmetric matrix of a lower triangle (exactly symmetric)."""
    lower = np.tril(g)
    return lower + np.tril(g, -1).T


def row_sums_lower(g: np.ndarray) -> np.ndarray:
    """Row sums of the symmetric matrix whose lower triangle is ``g`` (strict upper triangle zero)."""
    return g.sum(axis=1) + g.sum(axis=0) - np.diagonal(g)


def class_sums(a: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class sums of the rows of ``a``, shape (C, D): a sparse one-hot product, one pass over ``a``."""
    n = len(codes)
    onehot = scipy.sparse.csr_matrix((np.ones(n, dtype=a.dtype), (codes, np.arange(n))), shape=(n_classes, n))
    return np.asarray(onehot @ a)


def cholesky_solve_lower(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a^{-1} b`` for a symmetric positive (semi-)definite ``a`` given by its lower triangle.

    The CPU twin of :func:`fennec.metrics._linalg.spd_solve`: Cholesky (``?potrf``, ``?potrs``), and when ``a``
    is numerically singular the pseudo-inverse with the same relative eigenvalue cut-off.
    """
    potrf, potrs = get_lapack_funcs(("potrf", "potrs"), (a,))
    chol, info = potrf(a, lower=1, clean=0)
    if info == 0:
        x, info = potrs(chol, b, lower=1)
        _check(info, "potrs")
        return x
    evals, evecs = np.linalg.eigh(mirror_lower(a))
    cutoff = max(evals[-1], np.finfo(a.dtype).tiny) * a.shape[0] * np.finfo(a.dtype).eps  # as rank_cutoff
    inv = np.where(evals > cutoff, 1.0 / np.maximum(evals, cutoff), 0.0).astype(a.dtype)
    return evecs @ (inv[:, None] * (evecs.T @ b))


@dataclass(frozen=True)
class Tridiagonal:
    """``T = Q^T G Q`` of a symmetric ``G`` (``?sytrd``), with ``Q`` kept as its Householder reflectors.

    LogME needs, for a few target columns ``b``, quadratic forms in ``(G + tI)^{-1}`` at shifts ``t`` that change
    per target and per iteration, and the eigenvalues of ``G``; never the eigenvectors. Here they cost
    ``Q^T b`` once (:meth:`rotate`, O(m^2) per column), the eigenvalues (:meth:`eigvalsh`, O(m^2)) and one O(m)
    tridiagonal solve per (target, shift) (:meth:`solve_shifted`), instead of the m x m eigenvector matrix.
    """

    diag: np.ndarray
    offdiag: np.ndarray
    reflectors: np.ndarray
    tau: np.ndarray

    @classmethod
    def reduce(cls, g: np.ndarray) -> Tridiagonal:
        """Reduce the symmetric matrix whose lower triangle is ``g`` (Fortran-ordered; overwritten)."""
        sytrd, sytrd_lwork = get_lapack_funcs(("sytrd", "sytrd_lwork"), (g,))
        lwork, info = sytrd_lwork(g.shape[0], lower=1)
        _check(info, "sytrd_lwork")
        reflectors, diag, offdiag, tau, info = sytrd(g, lower=1, lwork=int(lwork), overwrite_a=1)
        _check(info, "sytrd")
        return cls(diag, offdiag, reflectors, tau)

    def rotate(self, b: np.ndarray) -> np.ndarray:
        """``Q^T b`` for ``b`` of shape (m, k) (a new Fortran-ordered array), by ``?ormtr`` on the reflectors in
        place (:func:`_cython_lapack`: SciPy has no Python wrapper, and emulating it by ``?ormqr`` copied the
        m x m reflectors' sub-matrix first)."""
        rotated = np.array(b, dtype=self.diag.dtype, order="F")
        reflectors = np.asfortranarray(self.reflectors)  # (already Fortran-ordered: ?sytrd's output)
        m, k = rotated.shape
        ormtr = _cython_lapack(_prefix(rotated) + "ormtr")
        info = ctypes.c_int(0)

        def call(work: np.ndarray, lwork: int) -> None:
            side, uplo, trans, m_, k_, lda = _by_ref(b"L", b"L", b"T", m, k, m)
            ldc, lwork_ = _by_ref(m, lwork)
            ormtr(side, uplo, trans, m_, k_, reflectors.ctypes.data_as(ctypes.c_void_p), lda,
                  self.tau.ctypes.data_as(ctypes.c_void_p), rotated.ctypes.data_as(ctypes.c_void_p), ldc,
                  work.ctypes.data_as(ctypes.c_void_p), lwork_, ctypes.byref(info))
            _check(info.value, "ormtr")

        query = np.zeros(1, dtype=rotated.dtype)
        call(query, -1)
        # ?ormtr's query leaves out the 65 x 64 block-reflector buffer that the ?ormqr it calls needs on top: with
        # only the size queried, ?ormqr falls back to its unblocked loop (m = 1,024, 50 columns: 2x the time on
        # one thread, 14x on two).
        lwork = max(int(query[0]), k * 64 + 65 * 64)
        call(np.empty(lwork, dtype=rotated.dtype), lwork)
        return rotated

    def eigvalsh(self) -> np.ndarray:
        """The eigenvalues of ``T`` (and ``G``), ascending (``?sterf``)."""
        sterf, = get_lapack_funcs(("sterf",), (self.diag,))
        evals, info = sterf(self.diag, self.offdiag)
        _check(info, "sterf")
        return evals

    def solve_shifted(self, shifts: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """``s_j = (T + shifts[j] I)^{-1} rhs[:, j]`` for every j, returned as rows: shape (k, m).

        All k systems are one block-diagonal tridiagonal system of size k m, solved by one LAPACK call (the
        per-call overhead, not the O(m) work, dominates k small solves). ``?ptsv`` (LDL^T) serves positive
        definite shifts; ``?gtsv`` (LU with pivoting) the rare indefinite case (a shift below the rounding of an
        eigenvalue near zero).
        """
        k, m = len(shifts), len(self.diag)
        diag = (self.diag[None, :] + shifts[:, None]).ravel()
        off = np.zeros((k, m), dtype=self.diag.dtype)
        off[:, :-1] = self.offdiag
        off = off.ravel()[:-1]  # a zero between blocks decouples the systems
        b = np.ascontiguousarray(rhs.T).ravel()
        ptsv, gtsv = get_lapack_funcs(("ptsv", "gtsv"), (diag,))
        _, _, solution, info = ptsv(diag, off, b)
        if info != 0:
            _, _, _, solution, info = gtsv(off, diag, off, b)
            _check(info, "gtsv")
        return solution.reshape(k, m)
