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
      fennec models add hf:google/vit-base-patch16-224 -w ws
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


def _arch_unit(encoder: Any, spec: str, *, name: str | None, top1: float | None, pretrain: str | None,
               allow_download: bool = False) -> Any:
    """One unit of ``models add``: the card of one architecture or Hugging Face model (runs where the engine puts
    it)."""
    if spec.startswith("hf:"):
        from fennec import hf

        return hf.model_card(spec, name=name, allow_download=allow_download, encoder=encoder,
                             imagenet_top1=top1, pretrain_data=pretrain)
    return _card_from_arch(spec, name, top1, pretrain, encoder)


def _models_from_file(path: Path) -> list[str]:
    """The models a list file names, one a line (blank lines and ``#`` comments skipped); a bare ``ORG/NAME`` that
    is not a file is ``hf:ORG/NAME``."""
    models = []
    for line in path.read_text().splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        bare_id = "/" in entry and ":" not in entry and not Path(entry).exists()
        models.append("hf:" + entry if bare_id else entry)
    return models


@command.command("add")
@click.argument("models", nargs=-1)
@click.option("--from-file", "list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A file naming models to add, one a line (as MODELS; a bare ORG/NAME is hf:).")
@click.option("--allow-download", is_flag=True,
              help="hf: models missing from the local Hugging Face cache: download their config.json (only).")
@click.option("--name", default=None, help="Model id in the history (default: the architecture name).")
@click.option("--imagenet-top1", type=float, default=None, help="ImageNet top-1 accuracy in percent, if known.")
@click.option("--pretrain-data", default=None, help="Pre-training data, e.g. imagenet, imagenet-21k.")
@engine_options
@workspace_option
@json_option
def add(models: tuple[str, ...], list_file: Path | None, allow_download: bool, name: str | None,
        imagenet_top1: float | None, pretrain_data: str | None, engine: str | None, address: str | None,
        workspace: Path | None, as_json: bool) -> None:
    """Add MODELS (each timm:NAME, torchvision:NAME, hf:ORG/NAME, hf:FOLDER, or a JSON model-card file) to the zoo.

    The model needs no fine-tuning result: the next `fennec train` places it in the space by its architecture
    (archi2vec) and metadata. A Hugging Face model is read from its config.json alone (the local Hugging Face
    cache, or a folder holding it; needs the hf extra): no weights, and no network without --allow-download; its
    id2label becomes the card's label names.

    \b
    Examples:
      fennec models add timm:resnet50 -w ws --imagenet-top1 80.4 --pretrain-data imagenet
      fennec models add torchvision:mobilenet_v2 --name my-mobilenet -w ws
      fennec models add hf:google/vit-base-patch16-224 hf:facebook/convnext-tiny-224 -w ws
      fennec models add --from-file zoo.txt -w ws          # one model a line
      fennec models add my_model_card.json -w ws
      fennec models add timm:resnet18 timm:resnet34 timm:convnext_tiny -w ws --engine ray   # encoded on Ray
    """
    import functools

    import archi2vec
    from fennec.errors import InputError

    models = tuple(dict.fromkeys([*models, *(_models_from_file(list_file) if list_file else [])]))
    if not models:
        raise click.UsageError("name at least one model (MODELS or --from-file)")
    if name and len(models) > 1:
        raise click.BadParameter("--name names one model; add several models without it", param_hint="--name")
    ws = open_workspace(workspace)
    archs = [m for m in models if m.startswith(("timm:", "torchvision:", "hf:"))]
    for model in models:
        if model not in archs and not Path(model).is_file():
            raise InputError(f"{model!r} is neither timm:NAME, torchvision:NAME, hf:ORG/NAME nor an existing "
                             "model-card file.", hint="e.g. fennec models add timm:resnet50")
    unit = functools.partial(_arch_unit, name=name, top1=imagenet_top1, pretrain=pretrain_data,
                             allow_download=allow_download)
    with cli_engine(engine, address, ws.path) as runner:  # architectures are units; card files are read here
        result = runner.map(unit, {m: m for m in dict.fromkeys(archs)}, setup=archi2vec.default_encoder,
                            desc="architectures")
    cards = [result.values[m] if m in archs else _card_from_file(Path(m)) for m in models if m not in
             {f.unit for f in result.failures}]
    ws.add_cards({card.name: card for card in cards})
    _report_added(cards, ws.path, as_json, several=len(models) > 1)
    result.check()


def _arch_text(card: Any) -> str:
    """How a card's architecture is named: ``arch``, or ``hf:<id or folder>`` for one built from a config."""
    if card.arch:
        return card.arch
    source = card.extra.get("hf_id") or card.extra.get("hf_path")
    return f"hf:{source}" if source else ""


def _report_added(cards: list[Any], path: Path, as_json: bool, several: bool) -> None:
    if as_json:
        rows = [{"added": c.name, "arch": _arch_text(c), "family": c.family, "n_params": c.n_params,
                 "n_labels": len(c.label_names)} for c in cards]
        if rows:
            emit_json(rows if several else rows[0])
        return
    for card in cards:
        params = f", {card.n_params / 1e6:.1f}M parameters" if card.n_params else ""
        labels = f", {len(card.label_names)} labels" if card.label_names else ""
        click.echo(f"Added {card.name} ({card.family or 'unknown family'}{params}{labels}).")
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
        emit_json([{"name": c.name, "family": c.family, "arch": _arch_text(c), "n_params": c.n_params,
                    "imagenet_top1": c.imagenet_top1} for c in cards.values()])
        return
    rows = [(c.name, c.family or "", _arch_text(c), f"{c.n_params / 1e6:.1f}M" if c.n_params else "")
            for c in sorted(cards.values(), key=lambda c: c.name)]
    print_table(rows, ["model", "family", "arch", "params"])
