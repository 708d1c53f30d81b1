"""``python -m archi2vec``: graph, encode, nearest neighbours, training and the family check.

Errors archi2vec raises on purpose are printed as one line plus a hint (exit status 1); set ``ARCHI2VEC_DEBUG=1``
for the traceback.
"""
from __future__ import annotations

import json
import sys

import click
import numpy as np

from archi2vec._cli_runner import run_click
from archi2vec._config import debug

__all__ = ["cli", "main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=_CONTEXT)
def cli() -> None:
    """archi2vec: neural-network architectures as typed op graphs, and their vectors.

    \b
    Examples:
      python -m archi2vec graph timm:resnet50
      python -m archi2vec encode timm:resnet50 timm:vit_small_patch16_224 --nearest 5
      python -m archi2vec train --epochs 20
      python -m archi2vec evaluate
    """


@cli.command(context_settings=_CONTEXT)
@click.argument("names", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--strict", is_flag=True, help="Fail instead of using the module-hierarchy fallback graph.")
def graph(names: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Print the op graph summary of each architecture NAME (size, depth, op mix, hash).

    \b
    Examples:
      python -m archi2vec graph timm:resnet50 torchvision:mobilenet_v3_small
      python -m archi2vec graph microsoft/swin-tiny-patch4-window7-224 --json
    """
    from archi2vec import cached_graph

    rows = []
    for name in names:
        g = cached_graph(name, fallback=not strict)
        rows.append({"name": g.name, "nodes": g.num_nodes, "edges": g.num_edges, "depth": g.longest_path(),
                     "params": g.n_params, "traced": g.traced, "hash": g.hash(), "ops": g.op_counts()})  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        ops = ", ".join(f"{op}:{n}" for op, n in sorted(row["ops"].items(), key=lambda kv: -kv[1]))
        kind = "traced" if row["traced"] else "module-hierarchy fallback"
        click.echo(f"{row['name']}: {row['nodes']} nodes, {row['edges']} edges, depth {row['depth']}, "
                   f"{row['params'] / 1e6:.1f}M params, {kind}, hash {row['hash']}\n  {ops}")  # fmt: skip


@cli.command(context_settings=_CONTEXT)
@click.argument("names", nargs=-1, required=True)
@click.option("--nearest", "k", type=click.IntRange(min=1), default=None,
              help="Print the K nearest known architectures instead of the vectors.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def encode(names: tuple[str, ...], k: int | None, as_json: bool) -> None:
    """Print the vector of each architecture NAME, or its nearest known architectures.

    NAME is timm:<arch>, torchvision:<arch>, a bare timm name, or a Hugging Face id of a standard checkpoint.

    \b
    Examples:
      python -m archi2vec encode timm:resnet50 timm:vit_small_patch16_224
      python -m archi2vec encode timm:resnet50 --nearest 5
      python -m archi2vec encode google/vit-base-patch16-224 --nearest 3 --json
    """
    import archi2vec

    if k is not None:
        result = archi2vec.nearest(list(names), k=k)
        if as_json:
            payload = {name: [{"name": n, "cosine": round(s, 4)} for n, s in near] for name, near in zip(names, result)}
            click.echo(json.dumps(payload, indent=1))
            return
        for name, near in zip(names, result):
            click.echo(f"{name}:")
            for neighbour, sim in near:
                click.echo(f"  {sim:+.3f}  {neighbour}")
        return
    vectors = archi2vec.encode(list(names))
    if as_json:
        click.echo(json.dumps({name: np.round(v, 5).tolist() for name, v in zip(names, vectors)}))
        return
    for name, vector in zip(names, vectors):
        click.echo(f"{name}\t" + " ".join(f"{x:.4f}" for x in vector))


@cli.command(context_settings=_CONTEXT)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output directory (default: the package's own archi2vec/_data, the default encoder).")  # fmt: skip
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--per-family", type=click.IntRange(min=1), default=24, show_default=True,
              help="Corpus: at most this many timm architectures per family.")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(min=2), default=64, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads (one is fastest on a small shared machine).")  # fmt: skip
def train(out: str | None, epochs: int, per_family: int, batch_size: int, lr: float, seed: int, threads: int) -> None:
    """Train the encoder on the timm corpus; write it and the corpus embeddings.

    Graphs are extracted once and cached (ARCHI2VEC_CACHE, default ~/.cache/archi2vec), so retraining is quick.

    \b
    Examples:
      python -m archi2vec train                      # rebuild the shipped default encoder
      python -m archi2vec train --out /tmp/enc --epochs 5
    """
    from archi2vec._train import train as run

    result = run(out, per_family=per_family, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                 threads=threads)  # fmt: skip
    click.echo(f"trained on {result.n_graphs} graphs, {result.epochs} epochs in {result.seconds:.0f}s; final loss "
               f"{result.final_loss:.4f} (NT-Xent {result.final_contrastive:.4f}, stats {result.final_stats:.4f}); "
               f"held-out same-family nearest neighbour {result.heldout_family_rate:.1%}")  # fmt: skip


@cli.command(context_settings=_CONTEXT)
@click.option("--corpus", type=click.Path(file_okay=False, exists=True), default=None,
              help="Directory written by `train --out` (default: the shipped corpus).")  # fmt: skip
def evaluate(corpus: str | None) -> None:
    """Family check: is each held-out architecture's nearest neighbour from its family?

    \b
    Examples:
      python -m archi2vec evaluate
      python -m archi2vec evaluate --corpus /tmp/enc
    """
    from archi2vec._corpus import family_report
    from archi2vec._encode import load_corpus

    data = load_corpus(corpus)
    queries = [n for n, held in zip(data.names, data.held_out) if held]
    click.echo(str(family_report(data.names, data.vectors, queries)))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_click(cli, argv, "python -m archi2vec", debug=debug, debug_variable="ARCHI2VEC_DEBUG")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
