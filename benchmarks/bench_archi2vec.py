"""Cost of archi2vec: graph extraction + encoding of N timm architectures from a cold cache.

Usage::

    python benchmarks/bench_archi2vec.py            # 300 architectures, fresh cache, 2 threads
    python benchmarks/bench_archi2vec.py --n 50 --json /tmp/bench.json

The architectures are evenly spaced over ``timm.list_models()`` (all families, from tiny to multi-billion-parameter
models). Each is built on the meta device and traced; the script prints wall time per phase, peak resident memory,
and the fp32 weight memory the same models would need if they were instantiated for real.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="number of timm architectures (default 300)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    # A fresh cache, so every graph is extracted and every vector computed.
    os.environ["ARCHI2VEC_CACHE"] = tempfile.mkdtemp(prefix="archi2vec-bench-")

    import numpy as np
    import torch
    from tqdm.auto import tqdm

    import archi2vec
    from archi2vec import cached_graph, list_timm_architectures

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    encoder = archi2vec.default_encoder()
    names = [n for n in list_timm_architectures() if not n.startswith("test_")]
    picks = sorted(set(np.linspace(0, len(names) - 1, args.n).round().astype(int).tolist()))
    names = [f"timm:{names[i]}" for i in picks]
    setup = time.perf_counter() - start

    graph_start = time.perf_counter()
    graphs, fallbacks, failures = [], 0, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", archi2vec.ArchTraceWarning)
        for name in tqdm(names, desc="graphs", unit="arch"):
            try:
                graph = cached_graph(name)
            except archi2vec.Archi2VecError as exc:
                failures.append(f"{name}: {str(exc).splitlines()[0]}")
                continue
            fallbacks += not graph.traced
            graphs.append(graph)
    graph_seconds = time.perf_counter() - graph_start

    encode_start = time.perf_counter()
    vectors = archi2vec.encode(graphs, encoder=encoder)
    encode_seconds = time.perf_counter() - encode_start
    total = time.perf_counter() - start

    weights_gib = sum(g.n_params for g in graphs) * 4 / 2**30
    nodes = np.array([g.num_nodes for g in graphs])
    figures = {
        "architectures": len(names),
        "graphs": len(graphs),
        "fallback_graphs": fallbacks,
        "failures": failures,
        "seconds_setup": round(setup, 1),
        "seconds_graphs": round(graph_seconds, 1),
        "seconds_encode": round(encode_seconds, 1),
        "seconds_total": round(total, 1),
        "peak_rss_mib": round(_peak_rss_mib()),
        "fp32_weights_if_allocated_gib": round(weights_gib, 1),
        "nodes_median": int(np.median(nodes)),
        "nodes_max": int(nodes.max()),
        "vector_shape": list(vectors.shape),
        "threads": args.threads,
    }
    print(f"{len(graphs)}/{len(names)} timm architectures ({fallbacks} module-hierarchy fallbacks, "
          f"{len(failures)} failures): graphs {graph_seconds:.1f}s + encoding {encode_seconds:.1f}s "
          f"(+ {setup:.1f}s imports) = {total:.1f}s total on {args.threads} threads")  # fmt: skip
    print(f"peak RSS {figures['peak_rss_mib']} MiB, while the same models' fp32 weights would take "
          f"{weights_gib:.1f} GiB; graph size median {figures['nodes_median']} nodes, max {figures['nodes_max']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
