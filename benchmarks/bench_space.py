"""Scale benchmark of the transfer space on synthetic low-rank transfer records.

Shape (defaults): 100,000 models x 1,000 tasks, 1,000,000 training records (10 per model, 1,000 per task), values
``b_m + <u_m, v_t> + noise`` of rank 16, with 32-d model and task side features that carry part of the structure.
Prints: fit time and peak memory; the time of ``update`` with 1% new records (half on 500 new models, half new
pairs of known models) and its ratio to the fit; the latency of a top-10 query over the whole zoo (index search
alone, and ``recommend`` from a task-feature vector, i.e. everything but the proxy); recall of the index against
exact search; and how well held-out records are predicted, to show the space learned something.

Run (the figures in the issue come from this exact command)::

    python benchmarks/bench_space.py

``--quick`` runs a 20x smaller version in seconds. Torch's thread count is left at its default.
"""
from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd
from scipy import stats

from fennec.space import TransferSpace


def synthetic(n_models: int, n_tasks: int, n_records: int, rank: int, n_feat: int, seed: int):
    """Records (DataFrame) of a planted low-rank space, and model/task side features (dicts id -> vector)."""
    rng = np.random.default_rng(seed)
    feats_m = rng.normal(size=(n_models, n_feat)).astype(np.float32)
    feats_t = rng.normal(size=(n_tasks, n_feat)).astype(np.float32)
    # half of each factor comes from the side features, half is idiosyncratic (only the history reveals it)
    proj_m, proj_t = rng.normal(size=(n_feat, rank)) / np.sqrt(n_feat), rng.normal(size=(n_feat, rank)) / np.sqrt(n_feat)
    u = (feats_m @ proj_m + rng.normal(size=(n_models, rank))) / np.sqrt(2 * rank)
    v = (feats_t @ proj_t + rng.normal(size=(n_tasks, rank))) / np.sqrt(2)
    bias = 0.5 * (feats_m[:, 0] + rng.normal(size=n_models)) / np.sqrt(2)
    cells = np.unique(rng.integers(0, n_models * n_tasks, size=int(n_records * 1.2)))
    cells = rng.permutation(cells)[:n_records]  # distinct (model, task) pairs
    m, t = cells // n_tasks, cells % n_tasks
    value = bias[m] + np.einsum("ij,ij->i", u[m], v[t]) + 0.1 * rng.normal(size=len(cells))
    names_m = np.char.add("m", np.arange(n_models).astype(str)).astype(object)
    names_t = np.char.add("t", np.arange(n_tasks).astype(str)).astype(object)
    records = pd.DataFrame({"model": names_m[m], "task": names_t[t], "value": value})
    return records, dict(zip(names_m, feats_m)), dict(zip(names_t, feats_t)), feats_t


def held_out_quality(space: TransferSpace, pairs: pd.DataFrame) -> float:
    """Spearman correlation between predicted and true values of held-out pairs of known models and tasks."""
    known = pairs[pairs["model"].isin(set(space.model_ids_)) & pairs["task"].isin(set(space.task_ids_))]
    return float(stats.spearmanr(space.predict(known), known["value"]).statistic)


def latency_ms(fn, queries: np.ndarray) -> float:
    """Median wall time of ``fn(query)`` over single queries, in milliseconds."""
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20x smaller, for a smoke test")
    args = parser.parse_args()
    scale = 20 if args.quick else 1
    n_models, n_tasks, n_records = args.models // scale, max(args.tasks // scale, 20), args.records // scale
    n_new = n_records // 100
    n_new_models = max(n_models // 200, 1)

    total = int((n_records + 2 * n_new) * (n_models + n_new_models) / n_models)
    records, feats_m, feats_t, raw_t = synthetic(n_models + n_new_models, n_tasks, total, rank=16, n_feat=32,
                                                 seed=args.seed)
    new_model_ids = {f"m{i}" for i in range(n_models, n_models + n_new_models)}
    on_new = records[records["model"].isin(new_model_ids)]
    known = records[~records["model"].isin(new_model_ids)]
    train, rest = known.iloc[:n_records], known.iloc[n_records:]
    update = pd.concat([on_new, rest.iloc[: n_new - len(on_new)]])
    test = rest.iloc[n_new - len(on_new):]
    print(f"data: {len(train):,} training records ({train['model'].nunique():,} models x "
          f"{train['task'].nunique():,} tasks), update {len(update):,} records "
          f"({update['model'].isin(new_model_ids).sum():,} on {n_new_models} new models), {len(test):,} held out")

    space = TransferSpace(random_state=args.seed, verbose=True)
    start, cpu = time.perf_counter(), time.process_time()
    space.fit(train, feats_m, feats_t)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"fit: {fit_s:.1f} s wall ({fit_cpu:.1f} s CPU over all threads); "
          f"held-out Spearman {held_out_quality(space, test):.3f}")

    start, cpu = time.perf_counter(), time.process_time()
    space.update(update, feats_m)
    update_s, update_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"update ({len(update):,} records = {len(update) / len(train):.1%}): {update_s:.2f} s wall "
          f"({update_cpu:.2f} s CPU); fit / update = {fit_s / update_s:.1f}x wall, {fit_cpu / update_cpu:.1f}x CPU; "
          f"held-out Spearman {held_out_quality(space, test):.3f}")

    start = time.perf_counter()
    index = space.index_
    print(f"index: {index.factory} over {index.ntotal:,} models, built in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(args.seed + 1)
    queries = raw_t[rng.integers(0, n_tasks, 300)] + 0.5 * rng.normal(size=(300, raw_t.shape[1]))
    vectors = space.task_vector(queries).astype(np.float32)
    search_ms = latency_ms(lambda v: index.search(v, 10), vectors)
    recommend_ms = latency_ms(lambda q: space.recommend(task_features=q, k=10), queries)
    exact = np.argsort(-(vectors @ space.model_factors_.T + space.model_bias_), axis=1)[:, :10]
    found = index.search(vectors, 10)[1]
    ids = np.asarray(space.model_ids_, dtype=object)
    recall = np.mean([len(set(ids[e]) & set(f)) / 10 for e, f in zip(exact, found)])
    print(f"top-10 query over {index.ntotal:,} models: index search {search_ms:.3f} ms median, recommend from task "
          f"features {recommend_ms:.3f} ms median; recall@10 vs exact {recall:.3f}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end "
          "(other processes share the cores when it exceeds the CPU count)")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"peak memory (max RSS of the process, data generation included): {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
