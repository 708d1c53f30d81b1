"""Uploaded tasks: a multipart form of class-folder images (or one zip of them) turned into a task folder.

The bounds are enforced while the request streams in, never after reading it whole: the declared
``Content-Length`` first, then the bytes actually received (the parser stops at the first chunk past the limit),
the number of files (the parser stops at the first file past it) and, for a zip, the number of members and the
bytes they really decompress to (a zip's own size fields are not trusted). File parts are spooled to temporary
files by the parser, so memory stays bounded too.

A file's name carries its place in the task: ``<class>/<image>`` or ``<task>/<class>/<image>`` (a browser sends
the relative path of a dropped folder's files; curl: ``-F "files=@cat/1.jpg;filename=cat/1.jpg"``).
"""
from __future__ import annotations

import shutil
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fennec.errors import InputError
from fennec.tasks import IMAGE_EXTENSIONS

__all__ = ["UploadError", "UploadLimits", "UploadTooLargeError", "receive_form", "task_from_files"]

_COPY_CHUNK = 1 << 20
_SKIPPED_PARTS = ("__MACOSX",)


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on one upload.

    Parameters
    ----------
    max_bytes : int, default=100 MiB
        Size of the request body, and of what a zip decompresses to.
    max_images : int, default=2000
        Files in the form, or members of a zip.
    max_fields : int, default=32
        Non-file form fields.
    """

    max_bytes: int = 100 * 2**20
    max_images: int = 2000
    max_fields: int = 32

    @property
    def megabytes(self) -> str:
        return f"{self.max_bytes / 2**20:g} MiB"


class UploadError(InputError):
    """An upload that is not a task (no class folders, no images, a broken zip...): HTTP 400."""

    status = 400


class UploadTooLargeError(UploadError):
    """An upload over the server's bounds: HTTP 413."""

    status = 413


# --------------------------------------------------------------------------------------------------- receiving


async def receive_form(request: Any, limits: UploadLimits) -> Any:
    """Parse a ``multipart/form-data`` request within ``limits``; Starlette's ``FormData`` (files spooled)."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(f"The upload ({int(declared) / 2**20:.1f} MiB)", limits)
    parser = MultiPartParser(request.headers, _bounded(request.stream(), limits), max_files=limits.max_images,
                             max_fields=limits.max_fields)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise UploadTooLargeError(f"The upload has more than {limits.max_images} files, the server's limit.",
                                      hint="send fewer images per class (the server samples at most 50 per "
                                           "class anyway), or a server-side path") from None
        raise UploadError(f"The upload is not a valid multipart form: {exc.message}",
                          hint="send multipart/form-data with one 'files' part per image") from None


async def _bounded(chunks: AsyncIterator[bytes], limits: UploadLimits) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limits.max_bytes:
            raise _too_large("The upload", limits)
        yield chunk


def _too_large(what: str, limits: UploadLimits) -> UploadTooLargeError:
    return UploadTooLargeError(f"{what} is larger than the server's limit of {limits.megabytes}.",
                               hint="send fewer or smaller images (at most 50 per class are used), or a zip")


# ---------------------------------------------------------------------------------------------------- layout


def task_from_files(files: Sequence[Any], dest: Path, limits: UploadLimits, *, name: str | None = None,
                    description: str = "") -> Any:
    """Write the uploaded files (Starlette ``UploadFile``s: ``filename`` and ``file``) as a task folder under
    ``dest`` and load it as a :class:`~fennec.tasks.Task` (sampled as ``fennec recommend`` does)."""
    from fennec.tasks import load_task

    if not files:
        raise UploadError("The upload has no files.",
                          hint="send the task's images as 'files' parts named <class>/<image>, or one zip")
    if len(files) == 1 and files[0].filename and files[0].filename.lower().endswith(".zip"):
        entries, top = _zip_entries(files[0], limits)
        top = top or Path(files[0].filename).stem
    else:
        entries, top = _layout([(f.filename or "", f.file) for f in files])
    root = dest / "task"
    _write(entries, root, limits)
    try:
        return load_task(root, name=name or top or "upload", description=description)
    except InputError as exc:  # say "the upload", not the server's temporary path
        message = exc.message.replace(str(root), "the upload")
        raise UploadError(message, hint=(exc.hint or "").replace(str(root), "the upload") or None) from None


def _parts(filename: str) -> list[str] | None:
    """The path components of an uploaded file's name; None for files to skip (hidden, macOS metadata)."""
    if "\x00" in filename:
        raise UploadError(f"The file name {filename!r} holds a NUL character.")
    parts = [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadError(f"The file name {filename!r} climbs out of the task folder ('..').",
                          hint="name files <class>/<image>")
    if not parts or any(p.startswith(".") or p in _SKIPPED_PARTS for p in parts):
        return None
    return parts


def _layout(named: Sequence[tuple[str, IO[bytes]]]) -> tuple[list[tuple[list[str], IO[bytes]]], str | None]:
    """``(class, ..., file)`` paths of the files, a shared top folder (the task's name) taken off."""
    entries = [(parts, handle) for filename, handle in named if (parts := _parts(filename)) is not None]
    tops = {parts[0] for parts, _ in entries}
    top = None
    if len(tops) == 1 and all(len(parts) >= 3 for parts, _ in entries):
        top = tops.pop()
        entries = [(parts[1:], handle) for parts, handle in entries]
    loose = [parts[-1] for parts, _ in entries if len(parts) < 2]
    if loose:
        raise UploadError(f"{len(loose)} uploaded file(s) are not in a class folder (e.g. {loose[0]!r}).",
                          hint="drop the task's folder (one sub-folder per class), or name each file "
                               "<class>/<image>, e.g. curl -F 'files=@cat/1.jpg;filename=cat/1.jpg'")
    if not any(Path(parts[-1]).suffix.lower() in IMAGE_EXTENSIONS for parts, _ in entries):
        raise UploadError(f"The upload holds no image files ({len(entries)} other file(s)).",
                          hint=f"images are {', '.join(sorted(IMAGE_EXTENSIONS))} files in class folders")
    return entries, top


def _zip_entries(upload: Any, limits: UploadLimits) -> tuple[list[tuple[list[str], Any]], str | None]:
    try:
        archive = zipfile.ZipFile(upload.file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"{upload.filename} is not a readable zip file ({exc}).",
                          hint="zip the task folder (one sub-folder per class)") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > limits.max_images:
        raise UploadTooLargeError(f"{upload.filename} holds {len(members)} files; the server's limit is "
                                  f"{limits.max_images}.", hint="zip fewer images per class")
    if sum(m.file_size for m in members) > limits.max_bytes:
        raise _too_large(f"{upload.filename} unpacked", limits)
    return _layout([(m.filename, _ZipMember(archive, m)) for m in members])


class _ZipMember:
    """A zip member opened only when written (so a bad layout is refused before anything is decompressed)."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self.archive, self.info = archive, info

    def read(self, size: int = -1) -> bytes:
        if not hasattr(self, "_handle"):
            self._handle = self.archive.open(self.info)
        return self._handle.read(size)


def _write(entries: Sequence[tuple[list[str], Any]], root: Path, limits: UploadLimits) -> None:
    """Copy every entry to ``root/<class>/...``, counting the bytes really written against the limit."""
    written = 0
    for parts, handle in entries:
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            while chunk := handle.read(_COPY_CHUNK):
                written += len(chunk)
                if written > limits.max_bytes:
                    shutil.rmtree(root, ignore_errors=True)
                    raise _too_large("The upload unpacked", limits)
                out.write(chunk)
