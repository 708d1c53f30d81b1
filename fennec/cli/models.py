"""``fennec models``: add a model to the zoo by what it is (architecture via archi2vec, metadata), and list them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import (
    cli_engine,
    emit_json,
    engine_options,
    json_option,
    open_workspace,
    print_table,
    workspace_option,
)

__all__ = ["command"]


@click.group("models")
def command() -> None:
    """The workspace's model zoo (model cards).

    \b
    Examples:
      fennec models add timm:convnext_tiny -w ws --imagenet-top1 82.1
      fennec models list -w ws
    """


def _card_from_file(path: Path):
    from fennec.cards import ModelCard
    from fennec.errors import InputError

    try:
        fields = json.loads(path.read_text())
        return ModelCard(**fields)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"{path} is not a model card: {exc}",
                         hint='write JSON like {"name": "my/model", "arch": "timm:resnet50", "n_params": 25.6e6}'
                         ) from None


def _card_from_arch(spec: str, name: str | None, top1: float | None, pretrain: str | None,
                    encoder: Any = None):
    """A card for ``timm:NAME`` / ``torchvision:NAME``: family and #params from its graph (meta device, no
    weights), checked to encode with archi2vec (``encoder``: the default one, loaded once per engine worker)."""
    import archi2vec

    from fennec.cards import ModelCard

    graph = archi2vec.graph_of(spec)
    archi2vec.encode([spec], encoder=encoder)  # fails here, not at training time, if it cannot be encoded
    arch = spec.split(":", 1)[1]
    return ModelCard(name=name or arch, family=archi2vec.family_of(arch), arch=spec,
                     n_params=float(graph.n_params) or None, pretrain_data=pretrain, imagenet_top1=top1)


def _arch_unit(encoder: Any, spec: str, *, name: str | None, top1: float | None, pretrain: str | None) -> Any:
    """One unit of ``models add``: the card of one architecture (runs where the engine puts it)."""
    return _card_from_arch(spec, name, top1, pretrain, encoder)


@command.command("add")
@click.argument("models", nargs=-1, required=True)
@click.option("--name", default=None, help="Model id in the history (default: the architecture name).")
@click.option("--imagenet-top1", type=float, default=None, help="ImageNet top-1 accuracy in percent, if known.")
@click.option("--pretrain-data", default=None, help="Pre-training data, e.g. imagenet, imagenet-21k.")
@engine_options
@workspace_option
@json_option
def add(models: tuple[str, ...], name: str | None, imagenet_top1: float | None, pretrain_data: str | None,
        engine: str | None, address: str | None, workspace: Path | None, as_json: bool) -> None:
    """Add MODELS (each timm:NAME, torchvision:NAME, or a JSON model-card file) to the zoo.

    The model needs no fine-tuning result: the next `fennec train` places it in the space by its architecture
    (archi2vec) and metadata.

    \b
    Examples:
      fennec models add timm:resnet50 -w ws --imagenet-top1 80.4 --pretrain-data imagenet
      fennec models add torchvision:mobilenet_v2 --name my-mobilenet -w ws
      fennec models add my_model_card.json -w ws
      fennec models add timm:resnet18 timm:resnet34 timm:convnext_tiny -w ws --engine ray   # encoded on Ray
    """
    import functools

    import archi2vec
    from fennec.errors import InputError

    if name and len(models) > 1:
        raise click.BadParameter("--name names one model; add several models without it", param_hint="--name")
    ws = open_workspace(workspace)
    archs = [m for m in models if m.startswith(("timm:", "torchvision:"))]
    for model in models:
        if model not in archs and not Path(model).is_file():
            raise InputError(f"{model!r} is neither timm:NAME, torchvision:NAME nor an existing model-card file.",
                             hint="e.g. fennec models add timm:resnet50")
    unit = functools.partial(_arch_unit, name=name, top1=imagenet_top1, pretrain=pretrain_data)
    with cli_engine(engine, address, ws.path) as runner:  # architectures are units; card files are read here
        result = runner.map(unit, {m: m for m in dict.fromkeys(archs)}, setup=archi2vec.default_encoder,
                            desc="architectures")
    cards = [result.values[m] if m in archs else _card_from_file(Path(m)) for m in models if m not in
             {f.unit for f in result.failures}]
    ws.add_cards({card.name: card for card in cards})
    _report_added(cards, ws.path, as_json, several=len(models) > 1)
    result.check()


def _report_added(cards: list[Any], path: Path, as_json: bool, several: bool) -> None:
    if as_json:
        rows = [{"added": c.name, "arch": c.arch, "family": c.family, "n_params": c.n_params} for c in cards]
        if rows:
            emit_json(rows if several else rows[0])
        return
    for card in cards:
        params = f", {card.n_params / 1e6:.1f}M parameters" if card.n_params else ""
        click.echo(f"Added {card.name} ({card.family or 'unknown family'}{params}).")
    if cards:
        click.echo(f"Next: fennec train --incremental -w {path}")


@command.command("list")
@workspace_option
@json_option
def list_models(workspace: Path | None, as_json: bool) -> None:
    """List the zoo's model cards.

    \b
    Example:
      fennec models list -w ws
    """
    cards = open_workspace(workspace).model_cards()
    if as_json:
        emit_json([{"name": c.name, "family": c.family, "arch": c.arch, "n_params": c.n_params,
                    "imagenet_top1": c.imagenet_top1} for c in cards.values()])
        return
    rows = [(c.name, c.family or "", c.arch or "", f"{c.n_params / 1e6:.1f}M" if c.n_params else "")
            for c in sorted(cards.values(), key=lambda c: c.name)]
    print_table(rows, ["model", "family", "arch", "params"])
