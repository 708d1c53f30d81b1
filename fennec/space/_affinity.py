"""The space's pairwise term: what a model was trained on against what the task looks like.

``score(m, t) = b_m + <u_m, v_t> + sum_v w_v a_v(m, t)``. Each *view* ``v`` gives a model a vector ``p_m`` (the
image proxy's embedding of its training data, the labels proxy's embedding of its label set, a one-hot of its
training dataset...) and a task a vector ``x_t`` in the same space (the task's own embedding, or its row of a
distance table over datasets); ``a_v(m, t)`` is ``<p_m, x_t>`` standardised over the models that have the view
(0 for a model without it), so it only reorders models within a task. The factor part cannot hold this: a cold
task enters the space through the training tasks it resembles, never through the models' own training data.

The weights are fitted on cold problems: each training task predicted from the others (its kernel vector, the
model biases without its records), and ``w`` a weighted ridge fit of the normalised values' residuals on the task's
affinities. A record weighs as the weighted Kendall tau weighs its rank, ``1 / rank`` among the task's models (the
best counts most), and each task weighs one in all: an unweighted fit is ruled by the middle of each list, where an
affinity barely moves a ranking, and on TransferGraph it falls short of the weight that lifts the two food101
checkpoints above the runs that ended at chance. The ridge strength, "off" included, is chosen by leave-one-task-out
over the training tasks (the weighted Kendall tau of the held-out task's ranking), so the term stays off where it
does not help on the history.

Cost per query: one product of each view's model matrix with the task's vector, ``O(n_models x q_v)``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata, weightedtau

from fennec.errors import InputError

__all__ = ["PairTerm", "RIDGES"]

#: Ridge strengths tried (times the number of tasks, each of total weight one); ``inf`` switches the term off.
RIDGES = (0.01, 0.1, 1.0, np.inf)


@dataclass
class PairTerm:
    """The views' model matrices (``n_models x q_v``, zero rows where a model lacks the view) and fitted weights."""

    views: tuple[str, ...]
    matrices: tuple[np.ndarray, ...]
    has: tuple[np.ndarray, ...]
    weights: np.ndarray

    @classmethod
    def of(cls, model_ids: Sequence[str], model_pairs: Mapping[str, Mapping[str, np.ndarray]] | None) -> "PairTerm":
        """Matrices from ``model_pairs`` (view -> model id -> vector); weights zero until :meth:`fit`."""
        views, matrices, has = [], [], []
        for view, vectors in sorted((model_pairs or {}).items()):
            known = {m: np.asarray(v, np.float32).ravel() for m, v in vectors.items()}
            dims = {v.size for v in known.values()}
            if len(dims) > 1:
                raise InputError(f"`model_pairs['{view}']` of TransferSpace.fit must hold vectors of one length. "
                                 f"Got lengths {sorted(dims)}.")
            dim = dims.pop() if dims else 0
            matrix = np.zeros((len(model_ids), dim), np.float32)
            mask = np.array([m in known for m in model_ids], dtype=bool)
            for row in np.flatnonzero(mask):
                matrix[row] = known[model_ids[row]]
            views.append(view), matrices.append(matrix), has.append(mask)
        return cls(tuple(views), tuple(matrices), tuple(has), np.zeros(len(views)))

    @property
    def used(self) -> bool:
        return bool(np.any(self.weights != 0))

    def grown(self, new_ids: Sequence[str], model_pairs: Mapping[str, Mapping[str, np.ndarray]] | None = None
              ) -> "PairTerm":
        """The term for more models ``new_ids``, with their view vectors where ``model_pairs`` gives them."""
        added = PairTerm.of(new_ids, {v: (model_pairs or {}).get(v, {}) for v in self.views})
        matrices = []
        for old, new in zip(self.matrices, added.matrices):
            matrices.append(np.vstack([old, new if new.shape[1] == old.shape[1] else
                                       np.zeros((len(new_ids), old.shape[1]), np.float32)]))
        has = tuple(np.concatenate([h, a & (n.shape[1] == m.shape[1])])
                    for h, a, n, m in zip(self.has, added.has, added.matrices, self.matrices))
        return PairTerm(self.views, tuple(matrices), has, self.weights)

    def affinities(self, task_pairs: Mapping[str, np.ndarray] | None) -> np.ndarray:
        """Standardised affinities (n_views, n_models) of every model to a task given by its view vectors (a view
        the task lacks gives zeros)."""
        n_models = len(self.has[0]) if self.has else 0
        out = np.zeros((len(self.views), n_models))
        for i, view in enumerate(self.views):
            x = None if task_pairs is None else task_pairs.get(view)
            if x is None or not self.has[i].any():
                continue
            x = np.asarray(x, np.float64).ravel()
            if x.size != self.matrices[i].shape[1]:
                raise InputError(f"The task's `{view}` pair vector has length {x.size}; the space's models have "
                                 f"{self.matrices[i].shape[1]}.")
            raw = self.matrices[i][self.has[i]].astype(np.float64) @ x
            spread = raw.std()
            if spread > 1e-12:
                out[i, self.has[i]] = (raw - raw.mean()) / spread
        return out

    def scores(self, task_pairs: Mapping[str, np.ndarray] | None) -> np.ndarray | float:
        """``sum_v w_v a_v(m, t)`` for every model (0.0 when the term is off)."""
        if not self.used or task_pairs is None:
            return 0.0
        return self.weights @ self.affinities(task_pairs)

    def fit(self, problems: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, Mapping[str, np.ndarray]]]
            ) -> "PairTerm":
        """Fit the weights on cold held-out problems ``(models, values z, cold predictions p, task pair vectors)``,
        one per training task, choosing the ridge strength by leave-one-task-out (see the module's docstring)."""
        data = [(self.affinities(pairs)[:, models].T, z - p, z, p, rank_weights(z))
                for models, z, p, pairs in problems if pairs]
        data = [d for d in data if np.any(d[0])]
        if not self.views or len(data) < 3:
            return self
        # No standard-error guard (as the task kernel's): on TransferGraph the term's gain comes from two training
        # tasks of twelve (food101, eurosat), which such a guard reads as noise and switches off where it helps.
        best, best_tau = np.inf, _loo_tau(data, np.inf)
        for ridge in RIDGES[:-1]:
            tau = _loo_tau(data, ridge)
            if tau > best_tau + 1e-9:
                best, best_tau = ridge, tau
        self.weights = _ridge(data, best)
        return self


def rank_weights(z: np.ndarray) -> np.ndarray:
    """Each record's weight in the fit: ``1 / rank`` of its value among the task's (ties share their mean rank),
    summing to one over the task."""
    weights = 1.0 / rankdata(-np.asarray(z, np.float64))
    return weights / weights.sum()


def _ridge(data: list, ridge: float, skip: int = -1) -> np.ndarray:
    """Weighted ridge weights over the problems (but ``skip``); ``ridge`` is per task; zeros for ``inf``."""
    n_views = data[0][0].shape[1]
    if not np.isfinite(ridge):
        return np.zeros(n_views)
    kept = [d for i, d in enumerate(data) if i != skip]
    a = np.concatenate([d[0] for d in kept])
    r = np.concatenate([d[1] for d in kept])
    w = np.concatenate([d[4] for d in kept])
    return np.linalg.solve((a * w[:, None]).T @ a + ridge * len(kept) * np.eye(n_views), (a * w[:, None]).T @ r)


def _loo_tau(data: list, ridge: float) -> float:
    """Mean weighted tau of each problem's ranking with the weights fitted on the other problems (problems of under
    3 models left out; 0.0 when none is left)."""
    taus = []
    for i, (a, _, z, p, _) in enumerate(data):
        if len(z) < 3:
            continue
        predicted = p + a @ _ridge(data, ridge, skip=i)
        tau = weightedtau(predicted, z)[0]
        taus.append(tau if np.isfinite(tau) else 0.0)  # a constant ranking (tau undefined) tells nothing: 0
    return float(np.mean(taus)) if taus else 0.0
