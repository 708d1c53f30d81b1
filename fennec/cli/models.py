"""``fennec models``: add a model to the zoo by what it is (architecture via archi2vec, metadata), and list them."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import emit_json, json_option, open_workspace, print_table, workspace_option

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


def _card_from_arch(spec: str, name: str | None, top1: float | None, pretrain: str | None):
    """A card for ``timm:NAME`` / ``torchvision:NAME``: family and #params from its graph (meta device, no
    weights), checked to encode with archi2vec."""
    import archi2vec

    from fennec.cards import ModelCard

    graph = archi2vec.graph_of(spec)
    archi2vec.encode([spec])  # fails here, not at training time, if the architecture cannot be encoded
    arch = spec.split(":", 1)[1]
    return ModelCard(name=name or arch, family=archi2vec.family_of(arch), arch=spec,
                     n_params=float(graph.n_params) or None, pretrain_data=pretrain, imagenet_top1=top1)


@command.command("add")
@click.argument("model")
@click.option("--name", default=None, help="Model id in the history (default: the architecture name).")
@click.option("--imagenet-top1", type=float, default=None, help="ImageNet top-1 accuracy in percent, if known.")
@click.option("--pretrain-data", default=None, help="Pre-training data, e.g. imagenet, imagenet-21k.")
@workspace_option
@json_option
def add(model: str, name: str | None, imagenet_top1: float | None, pretrain_data: str | None,
        workspace: Path | None, as_json: bool) -> None:
    """Add MODEL (timm:NAME, torchvision:NAME, or a JSON model-card file) to the zoo.

    The model needs no fine-tuning result: the next `fennec train` places it in the space by its architecture
    (archi2vec) and metadata.

    \b
    Examples:
      fennec models add timm:resnet50 -w ws --imagenet-top1 80.4 --pretrain-data imagenet
      fennec models add torchvision:mobilenet_v2 --name my-mobilenet -w ws
      fennec models add my_model_card.json -w ws
    """
    from fennec.errors import InputError

    ws = open_workspace(workspace)
    if model.startswith(("timm:", "torchvision:")):
        card = _card_from_arch(model, name, imagenet_top1, pretrain_data)
    elif Path(model).is_file():
        card = _card_from_file(Path(model))
    else:
        raise InputError(f"{model!r} is neither timm:NAME, torchvision:NAME nor an existing model-card file.",
                         hint="e.g. fennec models add timm:resnet50")
    ws.add_cards({card.name: card})
    if as_json:
        emit_json({"added": card.name, "arch": card.arch, "family": card.family, "n_params": card.n_params})
        return
    params = f", {card.n_params / 1e6:.1f}M parameters" if card.n_params else ""
    click.echo(f"Added {card.name} ({card.family or 'unknown family'}{params}).")
    click.echo(f"Next: fennec train --incremental -w {ws.path}")


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
