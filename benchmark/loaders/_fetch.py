"""Where benchmark files come from: the data directory, a download cache, or their public origin.

A file is looked up, in order, in the data directory (``FENNEC_DATA`` or the ``data_dir`` argument), then in the
download cache (``fennec.config.cache_dir("benchmarks")``); when it is in neither and the network is allowed it is
downloaded from a fixed URL and kept only if its SHA-256 is the one recorded here (that of the released file).
Offline, or when the download fails, :class:`~fennec.errors.DataNotFoundError` says which file to put where.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from fennec import config
from fennec.errors import DataNotFoundError

__all__ = ["RemoteFile", "FILES", "resolve", "resolve_all", "resolve_optional", "data_root"]

_TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    """A released benchmark file: its place under the data directory, its origin and its checksum.

    Parameters
    ----------
    relpath : str
        Path under the data directory, e.g. ``shift/ftrecords.csv``.
    sha256 : str
        SHA-256 of the released file.
    url : str, optional
        Raw URL of the released file; ``None`` when no public URL serves the file unchanged.
    origin : str
        Human-readable provenance, shown in error hints.
    """

    relpath: str
    sha256: str
    url: str | None
    origin: str


_SHIFT = "https://raw.githubusercontent.com/DS3Lab/shift/7bcefaa5db22b37812f0a7a018789e077d72abf6/data/"
_TG = ("https://raw.githubusercontent.com/TransferGraph/transfergraph/0458aff3ae6832926bed0bac515f243f99a98df0/"
       "resources/experiments/image_classification/")
_TIMM = "https://raw.githubusercontent.com/huggingface/pytorch-image-models/main/results/"


def _files(*entries: RemoteFile) -> dict[str, RemoteFile]:
    return {e.relpath: e for e in entries}


#: Every file a loader may read, by its path under the data directory.
FILES: dict[str, RemoteFile] = _files(
    RemoteFile("sfda/sfda_group1_finetune_acc.csv",
               "b4ab006700c7bf97ffcb0caeeb98302fd83abb6cd60f84b4ed0a9f4f67a10a8a", None,
               "fine-tuning accuracies of 11 ImageNet CNNs on 11 datasets published with LogME / SFDA "
               "(Shao et al., ECCV 2022), as a long CSV model,dataset,finetune_acc"),
    RemoteFile("shift/ftrecords.csv", "3834c1acff22ffa85c4c8140b780b3424261b7b9d53b9cbe42259b9801a127db",
               _SHIFT + "ftrecords.csv", "SHiFT (DS3Lab/shift), data/ftrecords.csv"),
    RemoteFile("shift/huggingface_cv_models.csv", "48a67cb0c31d1674167e07a6047f63c4bc5bd138110a5e65add1b09fe07eecb3",
               _SHIFT + "huggingface_cv_models.csv", "SHiFT (DS3Lab/shift), data/huggingface_cv_models.csv"),
    RemoteFile("snoopy/snoopy_vtab_1nn_vs_ft_long.csv",
               "900769c45c7a1165475eb40727e3c0e6b88e13adaf9b616cbafaf5622697d581", None,
               "snoopy (DS3Lab/snoopy-paper) vtab-results/raw_data reshaped to long form "
               "model_identifier,1nn_accuracy,ft_accuracy,task"),
    RemoteFile("transfergraph/records.csv", "0850df5da3bfd8ac3bf730ab985cac37362b68bcd16c4fc88eb7cdb5914861de",
               _TG + "records.csv", "TransferGraph, resources/experiments/image_classification/records.csv"),
    RemoteFile("transfergraph/model_config_dataset.csv",
               "ae18ff2ece00fef61cda755038122f306a499b6c8d82d36530765e862ab2747b", _TG + "model_config_dataset.csv",
               "TransferGraph, resources/experiments/image_classification/model_config_dataset.csv"),
    RemoteFile("transfergraph/target_dataset_features.csv",
               "9270a0f342b184d76a0069ff22d0286cc06e920c219a1f983badb1c28bc08ccf", _TG + "target_dataset_features.csv",
               "TransferGraph, resources/experiments/image_classification/target_dataset_features.csv"),
    RemoteFile("transfergraph/transferability_score_records.csv",
               "5803e4e3c08c53d95a6e451fc1509eb2a83494ea3ff1094db278e0f0a1875de9",
               _TG + "transferability_score_records.csv",
               "TransferGraph, resources/experiments/image_classification/transferability_score_records.csv"),
    RemoteFile("transfergraph/corr_domain_similarity_google_vit_base_patch16_224_imagenet.csv",
               "d5880dd17368201c18f7460335a6702a9cad2dc98880d079085518095a0e0752",
               _TG + "corr_domain_similarity_google_vit_base_patch16_224_imagenet.csv",
               "TransferGraph, resources/experiments/image_classification/"
               "corr_domain_similarity_google_vit_base_patch16_224_imagenet.csv"),
    # timm's table lives on a moving branch: a newer upstream file fails the checksum and the user is told to place it.
    RemoteFile("timm/results-imagenet.csv", "30972bf7c7ab451bbd4480ec6116b13d0a84441c57bbc946896fd312264acfcd",
               _TIMM + "results-imagenet.csv", "huggingface/pytorch-image-models, results/results-imagenet.csv"),
)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_dir`` when given, else ``fennec.config.data_dir()`` (``FENNEC_DATA``)."""
    return Path(data_dir).expanduser() if data_dir is not None else config.data_dir()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_DATA_VAR = "FENNEC_DATA (environment variable) chooses the data directory."


def _place(entry: RemoteFile, root: Path) -> str:
    return f"{root / entry.relpath} (it is {entry.origin}" + (f", {entry.url})" if entry.url else ")")


def _hint(entry: RemoteFile, root: Path) -> str:
    return f"put the file at {_place(entry, root)}; {_DATA_VAR}"


def _download(url: str, dest: Path) -> None:
    """Copy ``url`` to ``dest`` through a temporary file, so that an interrupted download leaves nothing behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fetch(entry: RemoteFile, root: Path) -> Path:
    """Download ``entry`` into the cache and verify it; raise DataNotFoundError when that is not possible."""
    missing = f"Benchmark file {entry.relpath!r} is not in the data directory {root}"
    if entry.url is None:
        raise DataNotFoundError(f"{missing} and has no public download URL.", hint=_hint(entry, root))
    if config.offline():
        raise DataNotFoundError(f"{missing} and downloads are disabled (FENNEC_OFFLINE or HF_HUB_OFFLINE).",
                                hint=_hint(entry, root))
    dest = config.cache_dir("benchmarks") / entry.relpath
    try:
        _download(entry.url, dest)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise DataNotFoundError(f"{missing} and downloading it from {entry.url} failed: {exc}.",
                                hint=_hint(entry, root)) from exc
    digest = _sha256(dest)
    if digest != entry.sha256:
        dest.unlink()
        raise DataNotFoundError(
            f"{missing}; the file downloaded from {entry.url} has SHA-256 {digest}, not the released {entry.sha256}.",
            hint=_hint(entry, root))
    return dest


def resolve(relpath: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Local path of a benchmark file, downloading it into the cache when it is missing and the network is allowed.

    Parameters
    ----------
    relpath : str
        A key of :data:`FILES`, e.g. ``"shift/ftrecords.csv"``.
    data_dir : path-like, optional
        The data directory; defaults to ``FENNEC_DATA``.

    Returns
    -------
    pathlib.Path
        The file in the data directory, or its verified copy in the download cache.

    Raises
    ------
    DataNotFoundError
        The file is missing and cannot be downloaded (offline, no URL, download failed, checksum mismatch).
    """
    entry = FILES[relpath]
    root = data_root(data_dir)
    local = root / relpath
    if local.is_file():
        return local
    cached = config.cache_dir("benchmarks") / relpath
    if cached.is_file() and _sha256(cached) == entry.sha256:
        return cached
    return _fetch(entry, root)


def resolve_all(relpaths: list[str], data_dir: str | os.PathLike | None = None) -> list[Path]:
    """:func:`resolve` for several files; when some cannot be had, one error names all of them and where they go."""
    found, errors = [], {}
    for relpath in relpaths:
        try:
            found.append(resolve(relpath, data_dir))
        except DataNotFoundError as exc:
            errors[relpath] = exc
    if len(errors) == 1:
        raise next(iter(errors.values()))
    if errors:
        root = data_root(data_dir)
        raise DataNotFoundError(
            f"{len(errors)} benchmark files are not in the data directory {root} and could not be downloaded: "
            f"{', '.join(errors)}.",
            hint="put them at " + "; ".join(_place(FILES[r], root) for r in errors) + f". {_DATA_VAR}")
    return found


def resolve_optional(relpath: str, data_dir: str | os.PathLike | None, purpose: str) -> Path | None:
    """Like :func:`resolve`, but a missing file gives a warning (saying what is lost) and ``None``."""
    try:
        return resolve(relpath, data_dir)
    except DataNotFoundError as exc:
        warnings.warn(f"{exc} Loading without it: {purpose}.", stacklevel=3)
        return None
