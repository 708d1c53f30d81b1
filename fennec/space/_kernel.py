"""The cold-task kernel: the vector of a task known only by its side features, by kernel regression over the
training tasks.

A task known only by its side features ``psi`` gets

.. math::

    v(\\psi) = \\bar v + \\frac{\\sum_j k_j (v_j - \\bar v)}{\\sum_j k_j + \\kappa}, \\qquad
    k_j = 2^{-(\\lVert \\psi - \\psi_j \\rVert / h)^2}

over the training tasks ``j`` (``v_bar``: their mean vector, i.e. the popularity prior). ``kappa`` is the weight of
the prior: a task far from every training task gets ``v_bar``, one close to a few of them leans towards their
vectors. The side features may come in blocks (label-name embedding, description embedding, size, a vision proxy's
distances...): the distance is then the root mean square of the per-block distances (each per square root of its
dimension), over one block or over all of them (a *view*), so that a 13-column block is not drowned by a
768-column one. A :class:`TaskKernel` averages several settings (view, width ``h``, prior weight ``kappa``) with
shares; which ones, and whether the side features are used at all, is decided on the training tasks by
:mod:`fennec.space._calibration`. The grid of candidate settings is :data:`WIDTHS` x :data:`PRIORS` per view.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fennec.errors import InputError

__all__ = ["KernelSetting", "TaskKernel", "WIDTHS", "PRIORS", "block_distances", "candidate_widths", "explaining_kernel",
           "median_spacing", "scaled_distances", "views_of"]

#: Candidate widths, in multiples of the median nearest-neighbour spacing of the training tasks.
WIDTHS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Candidate prior weights (pseudo-count of the mean task).
PRIORS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def scaled_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and ``b``, per square root of the dimension."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0) / max(a.shape[1], 1))


Blocks = tuple[tuple[int, int], ...]


def block_distances(a: np.ndarray, b: np.ndarray, blocks: Blocks = ()) -> np.ndarray:
    """Root mean square over ``blocks`` (column ranges; all columns when empty) of :func:`scaled_distances`."""
    if not blocks:
        return scaled_distances(a, b)
    squares = [scaled_distances(a[:, lo:hi], b[:, lo:hi]) ** 2 for lo, hi in blocks]
    return np.sqrt(np.mean(squares, axis=0))


def views_of(sizes: tuple[int, ...] | None, dim: int) -> list[Blocks]:
    """Candidate views for blocks of the given ``sizes`` (summing to ``dim``): all columns as one block, each block
    alone, all blocks with equal weight; only the first when there are no blocks."""
    if not sizes or len(sizes) < 2:
        return [()]
    if sum(sizes) != dim:
        raise InputError(f"`task_blocks` of TransferSpace must sum to the number of task feature columns ({dim}). "
                         f"Got {list(sizes)} (sum {sum(sizes)}) instead.")
    ends = np.cumsum(sizes)
    blocks = tuple((int(e - n), int(e)) for n, e in zip(sizes, ends))
    return [()] + [(block,) for block in blocks] + [blocks]


@dataclass(frozen=True)
class KernelSetting:
    """One calibrated kernel: view (column blocks), width ``h``, prior weight ``kappa`` and its share of the
    bagged kernel."""

    blocks: Blocks
    width: float
    prior: float
    share: float = 1.0

    def to_dict(self) -> dict:
        return {"blocks": [list(b) for b in self.blocks], "width": self.width, "prior": self.prior,
                "share": self.share}

    @classmethod
    def from_dict(cls, data: dict) -> "KernelSetting":
        return cls(tuple(tuple(b) for b in data["blocks"]), float(data["width"]), float(data["prior"]),
                   float(data["share"]))


@dataclass
class TaskKernel:
    """The calibrated kernel: training task features and rows, and the settings it averages (none: the side
    features are not used)."""

    points: np.ndarray
    rows: np.ndarray
    settings: tuple[KernelSetting, ...] = ()

    @property
    def used(self) -> bool:
        """Whether the side features move a cold task away from the prior."""
        return bool(self.settings) and self.points.shape[0] > 0

    def similarity(self, queries: np.ndarray) -> np.ndarray:
        """Kernel values (n, n_points) in [0, 1] of standardised side features to the training tasks: the shares'
        mean of ``2^{-(d / h)^2}`` over the settings."""
        out = np.zeros((queries.shape[0], self.points.shape[0]))
        for setting, kernel in self._kernels(queries):
            out += setting.share * kernel
        return out

    def weights(self, queries: np.ndarray, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
        """Weights (n, n_tasks) over the training tasks, summing to 1, for standardised side features (n, q), and
        the weight of the data against the prior (``sum k / (sum k + kappa)``, in [0, 1]: 0 when the features say
        nothing).

        Under one setting task ``j`` weighs ``(k_j + kappa / n_tasks) / (sum k + kappa)``, so the weighted mean of
        the training task vectors is the kernel regression of the module docstring; the bagged kernel takes the
        shares' mean of its settings' weights. Without a usable kernel the weights are uniform (their mean vector
        is the prior ``v_bar``).
        """
        n = queries.shape[0]
        weights, data = np.zeros((n, n_tasks)), np.zeros(n)
        if not self.used:
            return weights + 1.0 / n_tasks, data
        for s, kernel in self._kernels(queries):
            total = kernel.sum(1)
            part = np.full((n, n_tasks), s.prior / n_tasks)
            part[:, self.rows] += kernel
            weights += s.share * part / (total + s.prior)[:, None]
            data += s.share * total / (total + s.prior)
        return weights, data

    def _kernels(self, queries: np.ndarray) -> Iterator[tuple[KernelSetting, np.ndarray]]:
        """Each setting with its kernel values (n, n_points) ``2^{-(d / h)^2}``; the distances of a view are
        computed once for the settings that share it."""
        distances: dict[Blocks, np.ndarray] = {}
        for s in self.settings:
            if s.blocks not in distances:
                distances[s.blocks] = block_distances(queries, self.points, s.blocks)
            yield s, np.exp2(-(distances[s.blocks] / s.width) ** 2)


def median_spacing(distances: np.ndarray) -> float:
    """The median distance from each point to its nearest other point (``distances``: their pairwise distances);
    1.0 when there are fewer than two points or they coincide."""
    if len(distances) < 2:
        return 1.0
    nearest = np.where(np.eye(len(distances), dtype=bool), np.inf, distances).min(1)
    spacing = float(np.median(nearest))
    return spacing if spacing > 1e-6 else 1.0


def candidate_widths(distances: np.ndarray) -> np.ndarray:
    """Candidate widths of a view: :data:`WIDTHS` times the median nearest-neighbour spacing of the training tasks
    (``distances``: their pairwise distances in that view)."""
    return np.asarray(WIDTHS) * median_spacing(distances)


def explaining_kernel(kernel: TaskKernel, blocks: tuple[int, ...] | None, dim: int) -> TaskKernel:
    """The kernel that explains a cold task by its nearest training tasks: ``kernel`` itself when it uses the side
    features, else one setting over all blocks at equal weight, as wide as the median distance from a training task
    to its nearest one (so that the explanation looks where the space would look)."""
    if kernel.used:
        return kernel
    view = views_of(blocks and tuple(blocks), dim)[-1]
    width = median_spacing(block_distances(kernel.points, kernel.points, view))
    return TaskKernel(kernel.points, kernel.rows, (KernelSetting(view, width, 0.0),))
