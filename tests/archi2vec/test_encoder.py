"""The encoder: shipped artifacts, encode/nearest, family structure, size sensitivity, caching and training."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import archi2vec
from archi2vec import Encoder, encode, family_of, load_corpus
from archi2vec._config import package_data_dir
from archi2vec._train import _optimise, write_corpus
from archi2vec._trace import graph_of


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shipped_artifacts_are_small_and_consistent() -> None:
    files = {p.name: p.stat().st_size for p in package_data_dir().iterdir()}
    assert {"encoder.safetensors", "encoder.json", "corpus.safetensors", "corpus.json"} <= set(files)
    total = sum(files.values())
    print(f"\nshipped artifacts: {total / 2**20:.2f} MiB {files}")
    assert total < 5 * 2**20
    corpus = load_corpus()
    encoder = archi2vec.default_encoder()
    assert corpus.encoder_fingerprint == encoder.fingerprint()
    assert corpus.vectors.shape == (len(corpus.names), encoder.out_dim) and len(corpus.names) >= 300
    assert len(set(corpus.families)) >= 100  # "all families" of timm
    info = json.loads((package_data_dir() / "encoder.json").read_text())["info"]
    print(f"training: {info['n_graphs']} graphs, {info['epochs']} epochs, {info['seconds']:.0f}s, "
          f"final loss {info['final_loss']:.4f}")  # fmt: skip
    assert np.isfinite(info["final_loss"])


def test_held_out_architectures_sit_next_to_their_family() -> None:
    corpus = load_corpus()
    held = [name for name, h in zip(corpus.names, corpus.held_out) if h]
    trained = {name for name, h in zip(corpus.names, corpus.held_out) if not h}
    assert sorted(n.split(":")[1] for n in held) == sorted(archi2vec.HELD_OUT)
    assert not trained & set(held)
    report = archi2vec.family_report(corpus.names, corpus.vectors, held)
    print("\n" + str(report))
    assert report.n_families >= 10
    assert report.rate >= 0.85


def test_shipped_vectors_are_what_the_encoder_computes() -> None:
    # The nearest-neighbour table is not a frozen artefact: re-extracting and re-encoding reproduces it.
    corpus = load_corpus()
    names = ["timm:resnet101", "timm:mobilenetv3_small_075", "timm:convnext_tiny"]
    fresh = encode(names, use_cache=False)
    shipped = corpus.vectors[[corpus.names.index(n) for n in names]]
    np.testing.assert_allclose(fresh, shipped, rtol=1e-4, atol=1e-4)


def test_vector_separates_depth_and_width_within_a_family() -> None:
    v18, v101, v152 = encode(["timm:resnet18", "timm:resnet101", "timm:resnet152"])
    far, near = _cosine(v18, v152), _cosine(v101, v152)
    vt, vb, vl = encode(["timm:vit_tiny_patch16_224", "timm:vit_base_patch16_224", "timm:vit_large_patch16_224"])
    print(f"\ncos(resnet18, resnet152)={far:.3f} < cos(resnet101, resnet152)={near:.3f}; "
          f"cos(vit_tiny, vit_large)={_cosine(vt, vl):.3f} < cos(vit_base, vit_large)={_cosine(vb, vl):.3f}")
    assert far < near
    assert _cosine(vt, vl) < _cosine(vb, vl)
    assert family_of("timm:resnet18") == family_of("timm:resnet152")


def test_encode_accepts_names_ids_modules_and_graphs() -> None:
    by_name = encode("timm:resnet50")
    assert by_name.shape == (1, archi2vec.default_encoder().out_dim) and by_name.dtype == np.float32
    by_hf = encode(["microsoft/resnet-50"])
    module = archi2vec.instantiate("timm:resnet50")
    by_module = encode([module])
    by_graph = encode([graph_of("torchvision:resnet50")])
    for other in (by_hf, by_module, by_graph):
        np.testing.assert_array_equal(other, by_name)
    assert not np.allclose(encode("timm:vit_small_patch16_224"), by_name)


def test_encode_reads_the_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    first = encode(["timm:resnet26", "timm:convnext_atto"])

    def no_tracing(*args: object, **kwargs: object) -> None:
        raise AssertionError("graph extraction should come from the cache")

    monkeypatch.setattr(archi2vec._cache, "graph_of", no_tracing)
    monkeypatch.setattr(Encoder, "embed", no_tracing)
    np.testing.assert_array_equal(encode(["timm:resnet26", "timm:convnext_atto"]), first)


def test_nearest_finds_known_relatives() -> None:
    (near,) = archi2vec.nearest("timm:resnet50", k=5)
    print(f"\nnearest to resnet50: {near}")
    assert len(near) == 5 and "timm:resnet50" not in [n for n, _ in near]
    assert [s for _, s in near] == sorted((s for _, s in near), reverse=True)
    assert sum(family_of(n) in ("resnet", "resnext", "seresnet", "wide") for n, _ in near) >= 3
    with pytest.raises(ValueError, match="positive int"):
        archi2vec.nearest("timm:resnet50", k=0)


def test_training_runs_and_round_trips(tmp_path: Path) -> None:
    names = ["resnet18", "resnet34", "mobilenetv2_050", "efficientnet_b0", "vit_tiny_patch16_224", "convnext_atto",
             "densenet121", "regnetx_002"]  # fmt: skip
    graphs = {n: graph_of(f"timm:{n}") for n in names}
    torch.manual_seed(0)
    encoder = Encoder(hidden=16, out_dim=8, num_layers=2)
    losses, seconds = _optimise(encoder, list(graphs.values()), epochs=3, batch_size=4, lr=1e-2, temperature=0.5,
                                stats_weight=1.0, seed=0, progress=False)  # fmt: skip
    assert all(np.isfinite(losses)) and seconds > 0
    encoder.save(tmp_path, info={"final_loss": losses[0]})
    report = write_corpus(encoder, graphs, held_out=["resnet34"], out_dir=tmp_path)
    assert 0.0 <= report.rate <= 1.0 and len(report.rows) == 1
    loaded = Encoder.load(tmp_path)
    assert loaded.fingerprint() == encoder.fingerprint()
    np.testing.assert_allclose(loaded.embed([graphs["resnet18"]]), encoder.embed([graphs["resnet18"]]), atol=1e-6)
    corpus = load_corpus(str(tmp_path))
    assert corpus.names == [f"timm:{n}" for n in names] and corpus.vectors.shape == (len(names), 8)


def test_missing_artifacts_say_how_to_build_them(tmp_path: Path) -> None:
    with pytest.raises(archi2vec.ArtifactError, match="python -m archi2vec train"):
        Encoder.load(tmp_path)
    with pytest.raises(archi2vec.ArtifactError, match="python -m archi2vec train"):
        load_corpus(str(tmp_path))


@pytest.mark.slow
def test_family_check_from_scratch() -> None:
    """Re-extract and re-encode every held-out architecture, then redo the family check against the corpus."""
    corpus = load_corpus()
    held = [f"timm:{n}" for n in archi2vec.HELD_OUT]
    fresh = encode(held, use_cache=False)
    vectors = corpus.vectors.copy()
    for name, vector in zip(held, fresh):
        vectors[corpus.names.index(name)] = vector
    report = archi2vec.family_report(corpus.names, vectors, held)
    print("\n" + str(report))
    assert report.rate >= 0.85
