"""`fennec models add`: a model enters the zoo by its architecture and metadata, with clear errors."""
import json

from fennec.cli import main
from fennec.workspace import Workspace


def test_add_a_timm_architecture_and_a_card_file(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    capsys.readouterr()
    assert main(["models", "add", "timm:resnet18", "-w", str(ws), "--imagenet-top1", "69.7", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["family"] == "resnet" and 11e6 < added["n_params"] < 12e6  # resnet18: 11.7M parameters
    card_file = tmp_path / "card.json"
    card_file.write_text(json.dumps({"name": "team/my-vit", "arch": "timm:vit_tiny_patch16_224", "n_params": 5.7e6}))
    assert main(["models", "add", str(card_file), "-w", str(ws)]) == 0
    cards = Workspace.open(ws).model_cards()
    assert cards["resnet18"].imagenet_top1 == 69.7 and cards["team/my-vit"].arch == "timm:vit_tiny_patch16_224"


def test_bad_model_names_are_one_line(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    capsys.readouterr()
    assert main(["models", "add", "timm:resnett18", "-w", str(ws)]) == 1
    err = capsys.readouterr().err
    assert "Unknown timm architecture 'resnett18'" in err and "resnet18" in err and "Traceback" not in err
    assert main(["models", "add", "resnet18", "-w", str(ws)]) == 1
    assert "timm:NAME" in capsys.readouterr().err
