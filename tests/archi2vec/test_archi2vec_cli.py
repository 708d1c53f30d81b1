"""``python -m archi2vec``: help with examples, encode / nearest / graph output, errors as one line plus a hint."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from archi2vec._cli import cli, main


@pytest.mark.parametrize("command", [[], ["encode"], ["graph"], ["train"], ["evaluate"]])
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output and "python -m archi2vec" in result.output


def test_encode_prints_vectors_and_json() -> None:
    result = CliRunner().invoke(cli, ["encode", "timm:resnet18", "timm:vit_tiny_patch16_224"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["timm:resnet18", "timm:vit_tiny_patch16_224"]
    assert len(lines[0].split("\t")[1].split()) == 64
    result = CliRunner().invoke(cli, ["encode", "timm:resnet18", "--json"])
    assert len(json.loads(result.output)["timm:resnet18"]) == 64


def test_encode_nearest_json() -> None:
    result = CliRunner().invoke(cli, ["encode", "timm:resnet50", "--nearest", "3", "--json"])
    assert result.exit_code == 0, result.output
    near = json.loads(result.output)["timm:resnet50"]
    assert len(near) == 3 and all(n["name"].startswith("timm:") and -1 <= n["cosine"] <= 1 for n in near)


def test_graph_summary() -> None:
    result = CliRunner().invoke(cli, ["graph", "microsoft/resnet-50"])
    assert result.exit_code == 0 and "timm:resnet50: 177 nodes" in result.output and "conv:53" in result.output


def test_evaluate_prints_the_family_figure() -> None:
    result = CliRunner().invoke(cli, ["evaluate"])
    assert result.exit_code == 0 and "same-family nearest neighbour" in result.output


def test_errors_are_one_line_plus_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", "timm:resnet5O"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: Unknown timm architecture 'resnet5O'") and "hint: close timm names: resnet50" in err
    assert "Traceback" not in err
    assert main(["encode", "nvidia/mit-b0", "--nearest", "2"]) == 1
    assert "not one of the standard checkpoints" in capsys.readouterr().err
