"""How far the calibrated cold-task kernel is from the best single kernel setting chosen in hindsight.

For every cold-task split of a benchmark it fits the ``fennec`` method once, then scores the held-out task with
the space's kernel replaced by each setting of the calibration grid in turn (a view of the side-feature blocks, a
width in multiples of the median nearest-task spacing, a prior weight). It prints the mean weighted tau of:

- the prior alone (no side features: the model biases, i.e. popularity on the space's normalised values, the
  harness method ``popularity-ns`` under the default normalisation);
- the kernel the space calibrated on the training tasks (what ``fennec`` scores);
- the best settings when the choice is made on the held-out tasks themselves. That is a ceiling for any single
  fixed setting, not a method: it looks at the answers.

A large gap between the calibrated kernel and the ceiling says the calibration cannot find the right setting on so
few training tasks; a small ceiling says no setting of this kernel does much better with these side features.

Run::

    python benchmarks/kernel_ceiling.py --history shift
    python benchmarks/kernel_ceiling.py --history transfergraph8 --top 5
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from benchmark.headroom import kernel_grid
from benchmark.loaders import load
from benchmark.methods import create_method
from fennec.space import TaskKernel


def _split_taus(bench, task: str) -> tuple[dict, float, float]:
    """Held-out weighted tau of every grid setting, of the prior and of the calibrated kernel, for one task."""
    train = bench.records.loc[bench.records["task"] != task]
    method = create_method("fennec").fit(train, bench.model_cards, bench.task_cards)
    space, featurizer = method.space_, method.featurizer_
    truth = bench.records.loc[bench.records["task"] == task].set_index("model")["value"]
    truth = truth.reindex(space.model_ids_).to_numpy()
    known = ~np.isnan(truth)
    feats = featurizer.transform(bench.task_cards[task])

    def tau(kernel: TaskKernel) -> float:
        space.task_kernel_ = kernel
        return float(stats.weightedtau(space.score(task_features=feats)[1][known], truth[known]).statistic)

    calibrated = space.task_kernel_
    points, rows = calibrated.points, calibrated.rows
    taus = {}
    for setting, label in kernel_grid(points, featurizer.block_sizes, featurizer.block_names):
        taus[(label["view"], label["width"], label["prior"])] = tau(TaskKernel(points, rows, (setting,)))
    return taus, tau(TaskKernel(points, rows)), tau(calibrated)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Example: python benchmarks/kernel_ceiling.py --history shift")
    parser.add_argument("--history", required=True, help="benchmark name (shift, transfergraph8, ...)")
    parser.add_argument("--top", type=int, default=10, help="how many of the best hindsight settings to print")
    parser.add_argument("--tasks", help="comma-separated held-out tasks (default: the benchmark's targets)")
    args = parser.parse_args(argv)
    bench = load(args.history)
    tasks = args.tasks.split(",") if args.tasks else bench.targets
    unknown = sorted(set(tasks) - set(bench.targets))
    if unknown:
        parser.error(f"--tasks: {', '.join(unknown)} not among the targets of {args.history}: "
                     f"{', '.join(bench.targets)}")
    per_task, prior, calibrated = {}, [], []
    for task in tqdm(tasks, desc="splits"):
        per_task[task], p, c = _split_taus(bench, task)
        prior.append(p)
        calibrated.append(c)
    table = pd.DataFrame(per_task).mean(axis=1).sort_values(ascending=False)
    print(f"{args.history}: cold task, mean weighted tau over {len(tasks)} held-out tasks")
    print(f"  prior alone (popularity):       {np.mean(prior):.3f}")
    print(f"  calibrated kernel (fennec):     {np.mean(calibrated):.3f}")
    print(f"  best setting in hindsight:      {table.iloc[0]:.3f}  (chosen on the held-out tasks: a ceiling)")
    print(f"  best {args.top} settings (view, width x median spacing, prior weight):")
    for (view, multiple, prior_weight), value in table.head(args.top).items():
        print(f"    {value:.3f}  {view}, {multiple:g}, {prior_weight:g}")


if __name__ == "__main__":
    main()
