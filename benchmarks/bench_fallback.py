"""The recommender's metric fallback end to end against a plain loop: images -> K candidates' features -> metric.

The task: 1,000 JPEG images (160 x 160 random crops of ten real photographs from scikit-learn and scikit-image, one
class per photograph) in a folder, as a user's task is. The candidates: 24 of the mini-zoo's timm models (committed
weights, ``benchmark.minizoo``; by default those of its first four sources, the zoo the README's figure was measured
on). Both runs build each model from its weights, take its penultimate features on every
image and score them with the metric (LogME by default); neither reads the feature cache.

- plain loop: per model, the images decoded and preprocessed batch by batch (32), ``torch.no_grad()`` forward,
  then the metric: what a user writes first;
- fennec: :func:`fennec.scoring.score_models`, the path of ``fennec score`` and of the recommender's fallback
  (decoded pixels kept for the next model, ``torch.inference_mode()``, its batch size).

Rounds alternate the two runs, so a drift in the machine's speed hits both; the ratio is the median over rounds.
Printed: images/s (K x images / wall), seconds per candidate, where the time goes, and that the scores agree.

Usage::

    python benchmarks/bench_fallback.py                    # 24 models x 1,000 images, 3 rounds
    python benchmarks/bench_fallback.py --models 6 --images 200 --repeats 1   # a smoke run
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fennec import metrics
from fennec.features import clear_decoded, preprocess_images
from fennec.scoring import score_models
from fennec.tasks import Task, load_task


def _photos() -> list[np.ndarray]:
    """Ten real RGB photographs of at least 300 x 300 pixels."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    photos += [getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                                                  "hubble_deep_field", "retina", "colorwheel")]
    return [p[..., :3] for p in photos[:10]]


def write_task(root: Path, n_images: int, size: int = 160, seed: int = 0) -> Task:
    """``n_images`` random crops of the photographs as JPEG files under ``root/<photo>/``, loaded as a task."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    for i in range(n_images):
        label = i % len(photos)
        photo = photos[label]
        top, left = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        folder = root / f"photo{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo[top:top + size, left:left + size]).save(folder / f"{i}.jpg", quality=90)
    return load_task(root, max_per_class=None, max_images=None)


def plain_loop(task: Task, specs: dict, metric: str) -> tuple[dict[str, float], dict[str, float]]:
    """Scores per model, and seconds spent decoding, in forward passes and in the metric."""
    scorer = metrics.get(metric)
    scores, spent = {}, {"decode": 0.0, "forward": 0.0, "metric": 0.0}
    for spec in specs.values():
        model = spec.build().eval()
        captured = {}
        model.get_submodule(spec.head).register_forward_hook(lambda _m, i, _o, into=captured: into.update(x=i[0]))
        feats = []
        for _, images in _timed(task.iter_batches(32, draft_size=spec.preprocess.resize_size), spent):
            tic = time.perf_counter()
            batch = preprocess_images(images, spec.preprocess)
            spent["decode"] += time.perf_counter() - tic
            tic = time.perf_counter()
            with torch.no_grad():
                model(batch)
            feats.append(captured["x"].reshape(len(images), -1).numpy())
            spent["forward"] += time.perf_counter() - tic
        tic = time.perf_counter()
        scores[spec.name] = float(scorer(np.concatenate(feats), task.labels))
        spent["metric"] += time.perf_counter() - tic
    return scores, spent


def _timed(iterator, spent: dict[str, float]):
    """``iterator``'s items, the time spent producing them added to ``spent["decode"]``."""
    while True:
        tic = time.perf_counter()
        item = next(iterator, None)
        spent["decode"] += time.perf_counter() - tic
        if item is None:
            return
        yield item


def fennec_run(task: Task, specs: dict, metric: str, batch_size: int | None) -> dict[str, float]:
    clear_decoded()  # every round decodes the task once, as a new query does
    rows = score_models(task, list(specs.values()), metric, batch_size=batch_size, cache=False)
    return {row["model"]: row["score"] for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--models", type=int, default=24,
                        help="the first N mini-zoo models, those of its first four sources first (default: 24, all of "
                             "those; at most 48)")
    parser.add_argument("--metric", default="logme")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="fennec's batch size (default: its own, by input size; the plain loop uses 32)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from benchmark.minizoo import SOURCE_TASKS, ZOO, model_spec

    first = [m for m in ZOO if m.split(".", 1)[1] in SOURCE_TASKS[:4]]  # the 24-model zoo, in its order
    specs = {m: model_spec(m) for m in [*first, *(m for m in ZOO if m not in first)][: args.models]}
    with tempfile.TemporaryDirectory() as tmp:
        task = write_task(Path(tmp), args.images)
        task.images_hash  # noqa: B018 (hashed once, as extract_features does for its cache key)
        print(f"task: {task.n_images} JPEG images (160 px, {task.n_classes} classes); {len(specs)} mini-zoo models; "
              f"metric {args.metric}; torch threads {torch.get_num_threads()} of {os.cpu_count()} CPUs")
        fennec_run(task, dict(list(specs.items())[:2]), args.metric, args.batch_size)  # warm imports and kernels
        walls: dict[str, list[float]] = {"plain": [], "fennec": []}
        for round_ in range(args.repeats):
            tic = time.perf_counter()
            plain, spent = plain_loop(task, specs, args.metric)
            walls["plain"].append(time.perf_counter() - tic)
            tic = time.perf_counter()
            ours = fennec_run(task, specs, args.metric, args.batch_size)
            walls["fennec"].append(time.perf_counter() - tic)
            print(f"round {round_ + 1}: plain loop {walls['plain'][-1]:.1f} s (decode {spent['decode']:.1f}, "
                  f"forward {spent['forward']:.1f}, metric {spent['metric']:.2f}), fennec {walls['fennec'][-1]:.1f} s"
                  f", {walls['plain'][-1] / walls['fennec'][-1]:.2f}x")
        _report(walls, plain, ours, task.n_images, len(specs))


def _report(walls: dict[str, list[float]], plain: dict[str, float], ours: dict[str, float], n_images: int,
            n_models: int) -> None:
    for name, times in walls.items():
        wall = statistics.median(times)
        print(f"{name}: {n_models * n_images / wall:.0f} images/s, {wall / n_models:.3f} s per candidate "
              f"(median of {len(times)})")
    ratios = [p / f for p, f in zip(walls["plain"], walls["fennec"])]
    diff = max(abs(plain[m] - ours[m]) / max(abs(plain[m]), 1e-12) for m in plain)
    print(f"speed-up: {statistics.median(ratios):.2f}x median (rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"largest relative score difference {diff:.1e}")


if __name__ == "__main__":
    main()
