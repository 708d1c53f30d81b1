"""The recommender: a workspace's history, cards and trained space, composed into train and recommend.

``Recommender(workspace).train()`` fits a :class:`~fennec.space.TransferSpace` on the workspace's history with side
features of every model and task (:mod:`fennec.side_features`) and publishes it as a new workspace version.
``recommend(task)`` places a new task in the space from its side features (the proxies of the workspace config:
label names, size, and the image proxy's embedding of its images when the training tasks had one; one proxy pass
plus vector arithmetic), explains each model's place by the nearest historical tasks, and, when the space is unsure
and a candidate's weights are available locally, blends in a cold-start metric computed on the task's images.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._loaded_versions import LoadedVersions
from .cards import ModelCard, TaskCard
from .errors import InputError
from .forecast import expected_gains, fallback_reason, model_rows, ranking_summary, stop_advice
from .pair_features import PAIR_VIEWS, PairFeaturizer
from .recommendation import NextPicks, Recommendation
from .scoring import cannot_rank
from .side_features import TaskFeaturizer, model_side_features
from .space import LEVELS, TaskPrediction, TransferSpace
from .workspace import DEFAULT_CONFIG, Workspace, WorkspaceError

if TYPE_CHECKING:
    from .execution import Engine

__all__ = ["Recommender", "Recommendation", "NextPicks"]

_TRAINED_RECORDS = "records.csv"
TASK_FEATURES = "task_features.npz"
FEATURIZER = "task_featurizer.json"
PAIR_FEATURIZER = "pair_featurizer.json"


class Recommender:
    """Train and query the transfer space of a workspace.

    Parameters
    ----------
    workspace : Workspace
        An opened workspace (:meth:`fennec.workspace.Workspace.open`).
    engine : Engine, optional
        Where the metric fallback scores its candidates, one unit per model (default: the workspace config's
        ``execution`` section, else in this process; see :mod:`fennec.execution`).
    """

    def __init__(self, workspace: Workspace, engine: Engine | None = None) -> None:
        self.workspace = workspace
        self.engine = engine
        self._loaded = LoadedVersions()  # a long-lived Recommender (``fennec serve``) answers from memory

    # ------------------------------------------------------------------ training
    def _cards(self, records: pd.DataFrame) -> tuple[dict[str, ModelCard], dict[str, TaskCard]]:
        models = self.workspace.model_cards()
        tasks = self.workspace.task_cards()
        models.update({m: ModelCard(m) for m in set(records["model"]) - set(models)})
        tasks.update({t: TaskCard(t, description=t) for t in set(records["task"]) - set(tasks)})
        return models, tasks

    def train(self, incremental: bool = False, verbose: bool = False) -> str:
        """Fit the space on the whole history (or update the current one with what is new) and publish it.

        Returns the new version's name. With ``incremental=True`` and a current version, only records that are new
        or changed since that version are trained on (plus a replay sample, see :meth:`TransferSpace.update`).
        """
        records = self.workspace.history().records(aggregate="best")[["model", "task", "value"]]
        if len(records) < 2:
            raise InputError(f"The history of {self.workspace.path} has {len(records)} record(s); training needs "
                             "results of several models on at least one task.",
                             hint="add fine-tuning results with: fennec history add FILE")
        model_cards, task_cards = self._cards(records)
        model_features = model_side_features(model_cards)
        tasks = sorted(set(records["task"]))
        params = self.workspace.config.get("space") or {}
        current = self.workspace.current_version() if incremental else None
        if current is not None:  # the columns of the current space stay: its featurizers were fitted with it
            featurizer, pairing = self._featurizer(current), self._pair_featurizer(current)
        else:
            config = self.workspace.config
            featurizer = TaskFeaturizer(config["task_proxies"], config.get("image_proxy"))
            featurizer.fit({t: task_cards[t] for t in tasks})
            pairing = PairFeaturizer(config.get("pair_views", PAIR_VIEWS), config.get("image_proxy")).fit(
                model_cards, {t: task_cards[t] for t in tasks})
        task_features = dict(zip(tasks, featurizer.transform_many([task_cards[t] for t in tasks])))
        sources = {"model_sources": {m: card.pretrain_data for m, card in model_cards.items()},
                   "task_sources": {t: task_cards[t].dataset for t in tasks}}
        if current is not None:
            space = TransferSpace.load(self.workspace.version_dir(current) / "space")
            previous = pd.read_csv(self.workspace.version_dir(current) / _TRAINED_RECORDS)
            new = _changed_records(records, previous)
            if len(new):
                space.update(new, model_features, task_features, **sources)
            mode = f"update of {current} with {len(new)} new records"
        else:
            space = TransferSpace(**{"random_state": 0, "task_blocks": featurizer.block_sizes, **params,
                                     "verbose": verbose})
            space.fit(records, model_features, task_features, **sources, model_pairs=pairing.model_pairs_,
                      task_pairs=pairing.task_pairs({t: task_cards[t] for t in tasks}))
            mode = "fit"
        cold = sorted(set(model_cards) - set(space.model_ids_))
        if cold:
            space.add_model(cold, np.stack([model_features[m] for m in cold]),
                            [model_cards[m].pretrain_data for m in cold],
                            pairing.model_vectors({m: model_cards[m] for m in cold}))
        meta = {"mode": mode, "n_records": int(len(records)), "n_models": len(space.model_ids_),
                "n_tasks": int(records["task"].nunique())}
        with self.workspace.new_version(meta) as build:
            space.save(build / "space")
            records.to_csv(build / _TRAINED_RECORDS, index=False)
            (build / FEATURIZER).write_text(json.dumps(featurizer.to_dict()))
            (build / PAIR_FEATURIZER).write_text(json.dumps(pairing.to_dict()))
            names = sorted(task_features)
            np.savez(build / TASK_FEATURES, names=np.array(names), features=np.stack([task_features[t]
                                                                                       for t in names]))
        return self.workspace.current_version()

    def _featurizer(self, version: str) -> TaskFeaturizer:
        return self._loaded.get("featurizer", version, self._read_featurizer)

    def _read_featurizer(self, version: str) -> TaskFeaturizer:
        path = self.workspace.version_dir(version) / FEATURIZER
        if not path.exists():
            raise WorkspaceError(f"Version {version} of {self.workspace.path} was trained by an older fennec and "
                                 "lacks its task featurizer.", hint=f"retrain: fennec train -w {self.workspace.path}")
        return TaskFeaturizer.from_dict(json.loads(path.read_text()))

    def _pair_featurizer(self, version: str) -> PairFeaturizer:
        return self._loaded.get("pairs", version, self._read_pair_featurizer)

    def _read_pair_featurizer(self, version: str) -> PairFeaturizer:
        """The version's pairwise views (a version trained before them has none: its space has no pairwise term)."""
        path = self.workspace.version_dir(version) / PAIR_FEATURIZER
        state = json.loads(path.read_text()) if path.exists() else {"views": [], "datasets_": [], "sources_": [],
                                                                    "fitted_views_": []}
        return PairFeaturizer.from_dict(state)

    def _task_pairs(self, card: TaskCard, version: str) -> dict[str, np.ndarray]:
        """The query task's vectors for the space's pairwise term (none when the term is off: no proxy pass)."""
        space = self._load(version)[0]
        return self._pair_featurizer(version).transform(card) if space.pair_term_.used else {}

    def space(self, version: str | None = None) -> TransferSpace:
        """The trained :class:`~fennec.space.TransferSpace` of ``version`` (default: the current one), loaded once.

        Raises
        ------
        WorkspaceError
            The workspace has no trained space yet, or ``version`` does not exist.
        """
        return self._load(version)[0]

    # ------------------------------------------------------------------ querying
    def _open_query(self, task: Any, k: int, version: str | None, method: str
                    ) -> tuple[TaskCard, TransferSpace, str]:
        """The task's card and the space of ``version`` for a query of ``k`` models by ``method``."""
        if k < 1:
            raise InputError(f"k of {method} must be >= 1. Got {k} instead.")
        space, version = self._load(version)
        return (task.to_card() if hasattr(task, "to_card") else task), space, version

    def _load(self, version: str | None = None) -> tuple[TransferSpace, str]:
        version = version or self.workspace.current_version()
        if version is None:
            raise WorkspaceError(f"Workspace {self.workspace.path} has no trained space yet.",
                                 hint=f"run: fennec train -w {self.workspace.path}")
        return self._loaded.get("space", version, lambda v: TransferSpace.load(self.workspace.version_dir(v) / "space")
                                ), version

    def recommend(self, task: Any, k: int = 10, fallback: str | None = "auto", explain: bool = True,
                  version: str | None = None) -> Recommendation:
        """Rank the zoo for ``task`` (a :class:`fennec.tasks.Task` or a :class:`~fennec.cards.TaskCard`).

        Parameters
        ----------
        task : Task or TaskCard
            The new task; a Task's images feed the image proxy (when the space was trained with one) and the
            fallback metric.
        k : int, default=10
            Length of the ranking.
        fallback : {"auto", "sfda", "logme", ..., "none"} or None, default="auto"
            ``"auto"``: the workspace config's metric when the space's confidence in the top-k is below its
            ``below_confidence`` threshold; a metric name: always compute it; ``"none"``/None: never.
        explain : bool, default=True
            Add the nearest historical tasks and how each top model did there.
        version : str, optional
            A workspace version (default: the current one).
        """
        card, space, version = self._open_query(task, k, version, "recommend")
        features = self._featurizer(version).transform(task)
        pairs = self._task_pairs(card, version)
        prediction = (space.predict_task(features, levels=self._levels(), pairs=pairs)
                      if space.uncertainty_ is not None else None)
        ids, scores, confidence = (space.score(task_features=features, pairs=pairs) if prediction is None else
                                   (prediction.model_ids, prediction.scores, prediction.confidence))
        order = np.argsort(-scores, kind="stable")
        ids, scores, confidence = ids[order], scores[order], confidence[order]
        used = self._fallback(task, ids, scores, confidence, k, fallback, prediction)
        if used is not None:
            ids, scores, confidence = used.pop("_ranked")
        rows = model_rows(prediction, [str(m) for m in ids[:k]]) if prediction is not None else {}
        ranking = [{"model": str(m), "score": float(s), **rows.get(str(m), {"confidence": float(c)})}
                   for m, s, c in zip(ids[:k], scores[:k], confidence[:k])]
        explanation = (self._explain(space, features, [r["model"] for r in ranking], version)
                       if explain else {})
        summary = ranking_summary(prediction, k) if prediction is not None else {}
        return Recommendation(card.name, ranking, used, version, explanation, features, summary)

    def _levels(self) -> tuple[float, ...]:
        """The nominal coverages of the intervals (workspace config ``intervals: [0.8, 0.9]``)."""
        levels = self.workspace.config.get("intervals") or LEVELS
        bad = [lv for lv in levels if not isinstance(lv, (int, float)) or not 0 < lv < 1]
        if bad:
            raise WorkspaceError(f"`intervals` in the config of {self.workspace.path} must be levels in (0, 1). "
                                 f"Got {bad}.", hint="e.g. intervals: [0.8, 0.9]")
        return tuple(float(lv) for lv in levels)

    def next(self, task: Any, tried: Mapping[str, float] | None = None, k: int = 3,
             candidates: list[str] | None = None, dataset: str | None = None, version: str | None = None
             ) -> NextPicks:
        """Which models to fine-tune next on ``task`` given the results ``tried`` so far (model -> value).

        The space folds the tried results into the task, then ranks the untried models by
        :meth:`fennec.space.TransferSpace.next_scores`: optimistic where the task is uncertain, hedged against
        models that move with the tried ones, and betting early on models trained on the task's own dataset.

        Parameters
        ----------
        task : Task or TaskCard
            The task (its images feed the image proxy when the space was trained with one).
        tried : mapping of str to float, optional
            Fine-tuning results already known for the task; models the space does not know are reported in
            ``ignored``.
        k : int, default=3
            How many picks, the best bet first.
        candidates : list of str, optional
            Choose among these models only (e.g. those that fit the user's hardware).
        dataset : str, optional
            The dataset the task draws from, as model cards' ``pretrain_data`` would name it (default: the card's
            :attr:`~fennec.cards.TaskCard.dataset`, i.e. the task's name).
        version : str, optional
            A workspace version (default: the current one).
        """
        card, space, version = self._open_query(task, k, version, "next")
        known = set(space.model_ids_)
        used = {str(m): float(v) for m, v in (tried or {}).items() if m in known}
        ignored = sorted(str(m) for m in (tried or {}) if m not in known)
        if candidates is not None:
            unknown = sorted(set(candidates) - known)
            if unknown:
                raise InputError(f"candidates of next name models the space does not know: {', '.join(unknown[:5])}.",
                                 hint="fennec models add NAME -w WORKSPACE, then fennec train")
        features = self._featurizer(version).transform(task)
        dataset = dataset or card.dataset
        pairs = self._task_pairs(card, version)
        ids, values = space.next_scores(features, used, candidates, dataset, pairs)
        prediction = (space.predict_task(features, used, levels=self._levels(), pairs=pairs)
                      if space.uncertainty_ is not None else None)
        _, scores, confidence = (space.score(features, used, pairs) if prediction is None else
                                 (prediction.model_ids, prediction.scores, prediction.confidence))
        order = [i for i in np.argsort(-values, kind="stable") if np.isfinite(values[i])][:k]
        matched = set(space.models_trained_on(dataset))
        picks = [{"model": str(ids[i]), "value": float(values[i]), "score": float(scores[i]),
                  "confidence": float(confidence[i]), "trained_on_task_data": str(ids[i]) in matched}
                 for i in order]
        advice = None
        if prediction is not None:
            best = max(used.values()) if used else -np.inf
            gains = expected_gains(prediction, space, best, order) if used else np.full(len(order), np.nan)
            rows = model_rows(prediction, [p["model"] for p in picks])
            for pick, gain in zip(picks, gains):
                pick.update(rows[pick["model"]], expected_gain=float(gain))
            if used and picks:
                policy = self.workspace.config.get("next") or {}
                advice = stop_advice(max(p["expected_gain"] for p in picks), best, policy)
        return NextPicks(card.name, picks, used, ignored, version, advice)

    def _fallback(self, task: Any, ids: np.ndarray, scores: np.ndarray, confidence: np.ndarray, k: int,
                  fallback: str | None, prediction: TaskPrediction | None) -> dict[str, Any] | None:
        if fallback in (None, "none"):
            return None
        policy = {**DEFAULT_CONFIG["fallback"], **self.workspace.config["fallback"]}
        if fallback == "auto":
            if prediction is not None:
                reason = fallback_reason(prediction, str(ids[0]), policy)
            else:  # a space saved before intervals: its kernel-based confidence decides, as it did then
                top_confidence = float(confidence[:k].mean())
                limit = float(policy.get("below_confidence", 0.5))
                reason = (f"mean confidence of the top {k} is {top_confidence:.2f} < {limit}"
                          if top_confidence < limit else None)
            if reason is None:
                return None
            metric = policy["metric"]
        else:
            metric, reason = fallback, "requested"
        if not hasattr(task, "iter_batches"):
            return None  # a card alone has no images to compute a metric on
        from .features import list_models
        from .scoring import score_candidates

        local = set(list_models())
        candidates = [m for m in ids[: max(k, policy["top"]) * 3] if m in local][: policy["top"]]
        if len(candidates) < 2:
            return None
        rows = score_candidates(task, candidates, metric, engine=self.engine,
                                execution=self.workspace.config.get("execution"))
        if len(rows) < 2:
            return None
        metric_scores = {r["model"]: r["score"] for r in rows}
        blended = _blend(ids, scores, confidence, metric_scores)
        order = np.argsort(-blended, kind="stable")
        return {"metric": metric, "models": metric_scores, "reason": reason,
                "_ranked": (ids[order], blended[order], confidence[order])}

    def _explain(self, space: TransferSpace, features: np.ndarray, models: list[str],
                 version: str) -> dict[str, Any]:
        nearest = space.similar_tasks(features, k=3)
        names = [task for task, _ in nearest]
        records = pd.read_csv(self.workspace.version_dir(version) / _TRAINED_RECORDS)
        records["rank"] = records.groupby("task")["value"].rank(ascending=False, method="min").astype(int)
        per_model = {}
        for model in models:
            rows = records.loc[(records["model"] == model) & records["task"].isin(names)]
            per_model[model] = [{"task": r.task, "value": float(r.value), "rank": int(r.rank),
                                 "of": int((records["task"] == r.task).sum())} for r in rows.itertuples()]
        return {"nearest_tasks": [{"task": t, "similarity": s} for t, s in nearest], "models": per_model}


def _blend(ids: np.ndarray, scores: np.ndarray, confidence: np.ndarray,
           metric_scores: Mapping[str, float]) -> np.ndarray:
    """Scores where the metric ran become ``c * z(space) + (1 - c) * z(metric)`` mapped back onto the space's scale
    over those models (``c`` their confidence), so a metric moves a model only among the candidates it scored and
    moves it more where the space is less sure. A metric that scores every candidate the same (SFDA saturates on
    small tasks) says nothing about their order and leaves the scores as they are."""
    blended = scores.astype(np.float64).copy()
    where = np.array([m in metric_scores for m in ids])
    space_part = scores[where]
    metric_part = np.array([metric_scores[m] for m in ids[where]], dtype=np.float64)
    if metric_part.size < 2 or cannot_rank(metric_part):
        return blended
    mean, std = space_part.mean(), space_part.std() or 1.0
    z_space = (space_part - mean) / std
    z_metric = (metric_part - metric_part.mean()) / (metric_part.std() or 1.0)
    c = confidence[where]
    blended[where] = mean + std * (c * z_space + (1 - c) * z_metric)
    return blended


def _changed_records(records: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Records that are new, or whose aggregated value changed, since ``previous``."""
    merged = records.merge(previous, on=["model", "task"], how="left", suffixes=("", "_before"))
    changed = merged["value_before"].isna() | (merged["value"] != merged["value_before"])
    return merged.loc[changed, ["model", "task", "value"]].reset_index(drop=True)
