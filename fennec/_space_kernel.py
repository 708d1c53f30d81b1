"""Cold-start task vectors of :class:`fennec.space.TransferSpace`: kernel regression over the training tasks.

A task known only by its side features ``psi`` gets

.. math::

    v(\\psi) = \\bar v + \\frac{\\sum_j k_j (v_j - \\bar v)}{\\sum_j k_j + \\kappa}, \\qquad
    k_j = 2^{-(\\lVert \\psi - \\psi_j \\rVert / h)^2}

over the training tasks ``j`` (``v_bar``: their mean vector, i.e. the popularity prior). ``kappa`` is the weight of
the prior: a task far from every training task gets ``v_bar``, one close to a few of them leans towards their
vectors. The side features may come in blocks (label-name embedding, description embedding, size, a vision proxy's
distances...): the distance is then the root mean square of the per-block distances (each per square root of its
dimension), over one block or over all of them (a *view*), so that a 13-column block is not drowned by a
768-column one. The view, the width ``h`` and the prior weight ``kappa`` are scored by leave-one-task-out on the
training tasks themselves (each training task predicted from the others, ranked against its own records). With 12 to
20 training tasks the single best setting is mostly luck, so the kernel averages the settings that win on bootstrap
resamples of the tasks (bagging); when that procedure does not beat the prior by a margin, the side features are
not used at all.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from fennec.errors import InputError

__all__ = ["KernelSetting", "TaskKernel", "calibrate_task_kernel", "block_distances", "median_spacing",
           "scaled_distances", "views_of"]

#: Candidate widths, in multiples of the median nearest-neighbour spacing of the training tasks.
WIDTHS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Candidate prior weights (pseudo-count of the mean task).
PRIORS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Mean weighted tau by which the calibrated kernel must beat the prior alone to be used.
MARGIN = 0.03
#: Bootstrap resamples of the held-out tasks whose winning settings make up the kernel.
BAGS = 100


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


def _weighted_tau(predicted: np.ndarray, truth: np.ndarray) -> float:
    if len(truth) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return 0.0
    return float(stats.weightedtau(predicted, truth).statistic)


Column = Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]]
Observed = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _HeldOut:
    """The leave-one-task-out problems of the calibration: what predicting calibration task ``i`` (training task
    row ``rows[chosen[i]]``) from the other training tasks needs (see :func:`calibrate_task_kernel`)."""

    rows: np.ndarray
    chosen: np.ndarray
    distances: dict[Blocks, np.ndarray]  # per view: (n_chosen, n_rows) distances
    vectors: np.ndarray
    model_factors: np.ndarray
    column: Column
    observed: Observed
    total: np.ndarray = field(init=False)  # sum of all training task vectors (without task j's: j's prior)

    def __post_init__(self) -> None:
        self.total = self.vectors.sum(0)

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[Blocks, np.ndarray]]:
        """Held-out task ``i``'s normalised values, the model biases without it, the other tasks' pull on its models
        (n_models_i, n_others) and its distances to the other tasks per view."""
        j = self.chosen[i]
        models, z, bias = self.column(int(self.rows[j]))
        others = np.arange(len(self.rows)) != j
        mean = (self.total - self.vectors[self.rows[j]]) / (len(self.vectors) - 1)
        seen = self.observed(self.rows[others], models).T
        deviation = np.where(np.isnan(seen), self.model_factors[models] @ (self.vectors[self.rows[others]]
                                                                           - mean).T, seen - bias[:, None])
        return z, bias, deviation, {view: d[i, others] for view, d in self.distances.items()}


def _tilt(deviation: np.ndarray, distances: np.ndarray, width: float) -> tuple[np.ndarray, float]:
    """The kernel-weighted pull ``sum_j k_j deviation_j`` of the other tasks on a held-out task, and ``sum_j k_j``."""
    k = np.exp2(-(distances / width) ** 2)
    return deviation @ k, float(k.sum())


def _taus(z: np.ndarray, bias: np.ndarray, deviation: np.ndarray, distances: dict[Blocks, np.ndarray],
          settings: list[tuple[Blocks, float]]) -> np.ndarray:
    """Weighted tau of a held-out task under every setting (flat over settings x :data:`PRIORS`)."""
    out = np.empty((len(settings), len(PRIORS)))
    for s, (view, width) in enumerate(settings):
        tilt, mass = _tilt(deviation, distances[view], width)
        out[s] = [_weighted_tau(bias + tilt / (mass + prior), z) for prior in PRIORS]
    return out.ravel()


def _bagged_shares(gains: np.ndarray, seed: int) -> np.ndarray:
    """Share of each setting (columns of ``gains``, rows: held-out tasks) among the winners of :data:`BAGS`
    bootstrap resamples of the tasks (bagging, Breiman 1996: one winner picked on 12-20 tasks is mostly noise)."""
    rng = np.random.default_rng(seed)
    n = len(gains)
    wins = np.bincount([int(np.argmax(gains[rng.integers(0, n, n)].mean(0))) for _ in range(BAGS)],
                       minlength=gains.shape[1])
    return wins / BAGS


def _prediction(bias: np.ndarray, deviation: np.ndarray, distances: np.ndarray, settings: list,
                shares: np.ndarray) -> np.ndarray:
    """The held-out task's predicted normalised values under the settings' shares (flat over settings x priors)."""
    out = bias.copy()
    for flat in np.flatnonzero(shares):
        s, p = divmod(int(flat), len(PRIORS))
        view, width = settings[s]
        tilt, mass = _tilt(deviation, distances[view], width)
        out += shares[flat] * tilt / (mass + PRIORS[p])
    return out


def calibrate_task_kernel(points: np.ndarray, rows: np.ndarray, vectors: np.ndarray, model_factors: np.ndarray,
                          column: Column, observed: Observed, views: list[Blocks], max_tasks: int,
                          rng: np.random.Generator) -> TaskKernel:
    """Choose views, widths and prior weights by leave-one-task-out over (at most ``max_tasks`` of) the training
    tasks, bagged.

    ``column(j)`` gives task row ``j``'s models, their normalised values and their bias computed without task ``j``;
    ``observed(task_rows, models)`` the normalised values of those tasks on those models (NaN where there is no record);
    ``vectors`` are all training task vectors (their mean without ``j`` is the prior for ``j``).

    A neighbour's pull on a held-out task is its observed normalised values minus the prior, and only where it has no
    record, the space's reconstruction ``<u_m, v_i - v_bar>``: the model vectors were fitted on the held-out task
    too, so leaning on them would flatter the kernel on a small history (on a large one they are rarely needed
    and the task's own share in them is negligible).

    Every setting (view, width, prior) is scored by its mean weighted tau over the held-out tasks; the kernel
    averages the winners of bootstrap resamples of those tasks (:func:`_bagged_shares`). It is used only when the
    whole procedure, run without each held-out task and scored on it, beats the prior by :data:`MARGIN` and by
    one standard error.
    """
    if len(rows) < 3:
        return TaskKernel(points, rows)
    chosen = np.arange(len(rows))
    if len(chosen) > max_tasks:
        chosen = np.sort(rng.choice(len(rows), max_tasks, replace=False))
    seed = int(rng.integers(2 ** 31))
    dists, settings = {}, []
    for view in views:  # all pairwise distances once per view: the width grid and the held-out rows need them
        full = block_distances(points, points, view)
        dists[view] = full[chosen]
        settings += [(view, width) for width in _widths(full)]
    held_out = _HeldOut(rows, chosen, dists, vectors, model_factors, column, observed)
    gains = np.zeros((len(chosen), len(settings) * len(PRIORS)))
    baseline = np.zeros(len(chosen))  # the prior: the model biases alone
    for i in range(len(chosen)):
        z, bias, deviation, distances = held_out(i)
        baseline[i] = _weighted_tau(bias, z)
        gains[i] = _taus(z, bias, deviation, distances, settings) - baseline[i]
    # The gain of the whole procedure, not of its result: each held-out task is scored by the kernel bagged on
    # the other held-out tasks (a kernel picked on the tasks it is scored on flatters itself).
    nested = np.zeros(len(chosen))
    for i in range(len(chosen)):  # the held-out problems again: keeping every task's deviations would not scale
        z, bias, deviation, distances = held_out(i)
        shares = _bagged_shares(np.delete(gains, i, axis=0), seed)
        nested[i] = _weighted_tau(_prediction(bias, deviation, distances, settings, shares), z) - baseline[i]
    if nested.mean() < max(MARGIN, nested.std(ddof=1) / np.sqrt(len(nested))):
        return TaskKernel(points, rows)
    shares = _bagged_shares(gains, seed)
    return TaskKernel(points, rows, tuple(
        KernelSetting(settings[s][0], float(settings[s][1]), float(PRIORS[p]), float(shares[flat]))
        for flat in np.flatnonzero(shares) for s, p in [divmod(int(flat), len(PRIORS))]))


def median_spacing(distances: np.ndarray) -> float:
    """The median distance from each point to its nearest other point (``distances``: their pairwise distances);
    1.0 when there are fewer than two points or they coincide."""
    if len(distances) < 2:
        return 1.0
    nearest = np.where(np.eye(len(distances), dtype=bool), np.inf, distances).min(1)
    spacing = float(np.median(nearest))
    return spacing if spacing > 1e-6 else 1.0


def _widths(distances: np.ndarray) -> np.ndarray:
    """Candidate widths of a view: :data:`WIDTHS` times the median nearest-neighbour spacing of the training tasks
    (``distances``: their pairwise distances in that view)."""
    return np.asarray(WIDTHS) * median_spacing(distances)
