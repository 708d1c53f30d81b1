"""Load the mini-zoo as a :class:`~benchmark._types.Benchmark`, and use its models live.

The records, cards and weights are committed (``benchmark/minizoo/data/``), so loading needs neither network nor
images. Task cards carry the default proxy's embedding of the task's training images
(``extra["proxy"]["default"]``, a :meth:`fennec.proxy.TaskFeatures.to_dict`) and the LogME and SFDA scores of every
zoo model's pre-trained features on them (``extra["scores"]``); once the images are built
(``python -m benchmark.minizoo build``) each card's ``image_dir`` points at the training images, so an image proxy
or :class:`LiveMetric` can recompute all of it.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from torch import nn

from fennec.cards import ModelCard, TaskCard
from fennec.errors import DataNotFoundError

from .._types import Benchmark
from . import _store as store
from ._zoo import INPUT_SIZE, MEAN, STD, split_model_id

__all__ = ["load_minizoo", "zoo_model", "model_spec", "LiveMetric", "CITATION"]

CITATION = ("Fennec mini-zoo: 48 small timm models pre-trained here on 8 source tasks and fine-tuned on 20 target "
            "tasks of real images that ship in Python and Debian packages (benchmark/minizoo). Values are test "
            "accuracies (fraction) of the learning rate chosen on validation.")


def _data(data_dir: str | Path | None, *, check: bool = True) -> Path:
    root = Path(data_dir) if data_dir else store.DATA_DIR
    if check and not (root / "records.csv").exists():
        raise DataNotFoundError(f"The mini-zoo has no records in {root}.",
                                hint="generate them: python -m benchmark.minizoo generate")
    return root


def load_minizoo(data_dir: str | Path | None = None, *, cache: str | Path | None = None) -> Benchmark:
    """The mini-zoo benchmark: records, model cards and task cards (with proxy embeddings and metric scores).

    Parameters
    ----------
    data_dir : path-like, optional
        Artefact directory (default: the committed ``benchmark/minizoo/data``). Benchmark files of other loaders
        live in ``FENNEC_DATA``; the mini-zoo's ship with the package, so that setting is not used.
    cache : path-like, optional
        Where ``build`` exported the images (default: ``<FENNEC_HOME>/cache/minizoo``); a card's ``image_dir`` is
        set when its training images are there.

    Returns
    -------
    Benchmark

    Examples
    --------
    >>> bench = load_minizoo()
    >>> len(bench.models), len(bench.tasks) >= 16
    (48, True)
    """
    root = _data(data_dir)
    records = pd.read_csv(root / "records.csv")
    cache_root = Path(cache) if cache else store.default_cache()
    sources = store.read_json(root / "sources.json", {})
    return Benchmark(
        name="minizoo", records=records,
        model_cards={m: _model_card(m, c, root, sources) for m, c in store.read_json(root / "models.json", {}).items()},
        task_cards={t: _task_card(c, cache_root) for t, c in store.read_json(root / "tasks.json", {}).items()},
        citation=CITATION)


def _model_card(model: str, card: Mapping, root: Path, sources: Mapping) -> ModelCard:
    extra = {k: card[k] for k in ("arch", "overrides", "source", "source_domain", "source_val_accuracy") if k in card}
    extra["weights"] = str(root / "weights" / f"{model}.safetensors")
    if card["source"] in sources:  # what the model was trained on: its images' embedding, its label set
        extra["source_proxy"] = dict(sources[card["source"]]["proxy"])
        extra["source_labels"] = list(sources[card["source"]].get("label_names", ()))
    return ModelCard(name=model, family=card.get("family"), arch=f"timm:{card['timm_name']}",
                     n_params=float(card["n_params"]), pretrain_data=f"minizoo:{card['source']}", extra=extra)


def _task_card(card: Mapping, cache: Path) -> TaskCard:
    images = store.image_dir(cache, card["name"], "train")
    complete = (images.parent / ".train.complete").exists()
    return TaskCard(name=card["name"], n_classes=card["n_classes"], n_train=card["n_train"],
                    label_names=tuple(card["label_names"]), description=card["description"], domain=card["domain"],
                    image_dir=str(images) if complete else None, extra=dict(card["extra"]))


@functools.lru_cache(maxsize=32)
def zoo_model(model_id: str, data_dir: str | None = None) -> nn.Module:
    """Zoo model ``model_id`` with its committed pre-trained weights (float32, eval mode)."""
    from safetensors.torch import load_file

    from ._train import load_pretrained

    split_model_id(model_id)
    path = _data(data_dir, check=False) / "weights" / f"{model_id}.safetensors"
    if not path.exists():
        raise DataNotFoundError(f"No weights for mini-zoo model {model_id!r} ({path}).",
                                hint="generate them: python -m benchmark.minizoo generate --stage pretrain")
    return load_pretrained(model_id, load_file(str(path)))


def model_spec(model_id: str, data_dir: str | None = None):  # noqa: ANN201 (fennec.features.ModelSpec)
    """A :class:`fennec.features.ModelSpec` of a zoo model (32 px input, its normalisation), for
    :func:`fennec.features.extract_features` and for ``fennec.features.register_model``."""
    from fennec.features import ModelSpec, PreprocessConfig

    return ModelSpec(name=f"minizoo/{model_id}", build=lambda: zoo_model(model_id, data_dir),
                     preprocess=PreprocessConfig(input_size=INPUT_SIZE, mean=MEAN, std=STD, crop_pct=1.0),
                     weights_id=f"minizoo/{model_id}@{_weights_digest(model_id, data_dir)}",
                     head=split_model_id(model_id)[0].head)


def _weights_digest(model_id: str, data_dir: str | None) -> str:
    import hashlib

    path = _data(data_dir, check=False) / "weights" / f"{model_id}.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


class LiveMetric:
    """A cold-start metric (``logme``, ``sfda``...) computed now from each zoo model's features on a task's images.

    ``score`` reads the training images at the card's ``image_dir``; a card without images falls back to the
    scores the generator computed the same way (``extra["scores"][metric]``), unless ``require_images``.

    Parameters
    ----------
    metric : str
        A name of :func:`fennec.metrics.available`.
    require_images : bool, default=False
        Raise instead of falling back when a card has no images.
    """

    def __init__(self, metric: str, require_images: bool = False) -> None:
        self.metric = metric
        self.require_images = require_images

    def fit(self, records: pd.DataFrame, model_cards: Mapping[str, ModelCard],
            task_cards: Mapping[str, TaskCard]) -> "LiveMetric":
        self.models_ = sorted(set(model_cards) | set(records["model"]))
        return self

    def score(self, task_card: TaskCard, revealed: pd.DataFrame) -> dict[str, float]:
        if task_card.image_dir is None:
            if self.require_images:
                raise DataNotFoundError(f"Task card {task_card.name!r} has no images.",
                                        hint="build them: python -m benchmark.minizoo build --install-deps")
            return dict(task_card.extra.get("scores", {}).get(self.metric, {}))
        from fennec import metrics
        from fennec.features import extract_features
        from fennec.tasks import load_task

        task = load_task(task_card.image_dir, name=task_card.name, max_per_class=None, max_images=None)
        scorer = metrics.get(self.metric)
        scores = {}
        for model in self.models_:
            feats = extract_features(model_spec(model), task, progress=False)
            scores[model] = float(scorer(feats.features.astype("float64"), feats.labels))
        return scores
