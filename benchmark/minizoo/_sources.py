"""Real images reachable offline, and the rendering that turns them into small samples.

Four kinds of raw material, all local:

- images that ship inside Python packages: scikit-learn's handwritten digits and sample photos, scikit-image's
  photos, textures, microscopy and the LFW face subset, matplotlib's Grace Hopper photo and bundled fonts;
- fonts from Debian packages (``fonts-noto-core``) rendered glyph by glyph;
- the colour emoji font ``fonts-noto-color-emoji`` with the Unicode emoji groups of ``unicode-data``;
- the PNG icon themes ``oxygen-icon-theme`` and ``adwaita-icon-theme``.

Every sample is a 32 x 32 RGB ``uint8`` array. Random choices (size, offset, rotation, colours, crops) come from the
``numpy.random.Generator`` passed in, so a task rebuilds bit for bit from its seed.
"""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fennec.errors import DataNotFoundError, FennecError

__all__ = ["SIZE", "APT_PACKAGES", "install_deps", "missing_packages", "Sprite", "render_glyph", "render_sprite",
           "skimage_data", "render_patch", "render_array", "font_covers", "matplotlib_fonts", "noto_fonts", "emoji_table",
           "emoji_sprite", "icon_sprite", "icon_files", "package_image"]

SIZE = 32
_OVERSAMPLE = 4  # glyphs are drawn at 4x and downsampled, so strokes are anti-aliased like a real small image

#: Debian packages the builder renders from, with a file that shows each is installed.
APT_PACKAGES: dict[str, str] = {
    "fonts-noto-core": "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "fonts-noto-color-emoji": "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "unicode-data": "/usr/share/unicode/emoji/emoji-test.txt",
    "oxygen-icon-theme": "/usr/share/icons/oxygen/base/48x48/mimetypes",
    "adwaita-icon-theme": "/usr/share/icons/Adwaita/48x48/status",
    "tango-icon-theme": "/usr/share/icons/Tango/32x32/status",
}
NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
EMOJI_FONT = NOTO_DIR / "NotoColorEmoji.ttf"
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
ICON_ROOTS = {"oxygen": Path("/usr/share/icons/oxygen/base"), "adwaita": Path("/usr/share/icons/Adwaita"),
              "tango": Path("/usr/share/icons/Tango")}
_ICON_PACKAGES = {"oxygen": "oxygen-icon-theme", "adwaita": "adwaita-icon-theme", "tango": "tango-icon-theme"}


def missing_packages(packages: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The Debian packages among ``packages`` (default: all of :data:`APT_PACKAGES`) whose files are absent."""
    return [p for p in (packages or APT_PACKAGES) if not Path(APT_PACKAGES[p]).exists()]


def install_deps(packages: list[str] | None = None) -> list[str]:
    """Install the missing Debian packages with ``apt-get`` (needs root and a reachable Debian mirror).

    Returns
    -------
    list of str
        The packages that were installed (empty when all were present).
    """
    missing = missing_packages(packages)
    if not missing:
        return []
    if shutil.which("apt-get") is None:
        raise FennecError(f"Debian packages {missing} are missing and apt-get is not available here.",
                          hint="install them with your system's package manager, or build only the tasks that need "
                               "no system package: python -m benchmark.minizoo build --no-apt")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env)
    return missing


def _require(package: str) -> None:
    if missing_packages([package]):
        raise DataNotFoundError(f"The Debian package {package!r} is not installed (no {APT_PACKAGES[package]}).",
                                hint="run: python -m benchmark.minizoo build --install-deps")


# ----------------------------------------------------------------------------------------------------- colours ---
def _light(rng: np.random.Generator) -> tuple[int, int, int]:
    base = int(rng.integers(190, 256))
    return tuple(int(np.clip(base + rng.integers(-25, 26), 0, 255)) for _ in range(3))


def _dark(rng: np.random.Generator) -> tuple[int, int, int]:
    base = int(rng.integers(0, 90))
    return tuple(int(np.clip(base + rng.integers(-20, 21), 0, 255)) for _ in range(3))


# ------------------------------------------------------------------------------------------------------ glyphs ---
@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=256)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or ())


def font_covers(path: str | Path, chars: str) -> bool:
    """Whether the font at ``path`` maps every character of ``chars`` to a glyph."""
    cmap = _cmap(str(path))
    return all(ord(c) in cmap for c in chars)


def matplotlib_fonts() -> dict[str, Path]:
    """The TrueType fonts that ship inside matplotlib (DejaVu, STIX, Computer Modern), by file stem."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    skip = re.compile(r"Display|STIXSiz|LastResort|cmex|cmsy")  # display cuts and symbol-only fonts
    return {p.stem: p for p in sorted(root.glob("*.ttf")) if not skip.search(p.stem)}


def noto_fonts(pattern: str) -> list[Path]:
    """Noto fonts of ``fonts-noto-core`` whose file name matches ``pattern`` (a regular expression), sorted."""
    _require("fonts-noto-core")
    return [p for p in sorted(NOTO_DIR.glob("*.ttf")) if re.fullmatch(pattern, p.stem)]


def render_glyph(char: str, font: Path | str, rng: np.random.Generator) -> np.ndarray:
    """One character in ``font``, dark on a light background, at a random size, offset and small rotation."""
    big = SIZE * _OVERSAMPLE
    background, ink = _light(rng), _dark(rng)
    image = Image.new("RGB", (big, big), background)
    size = int(rng.integers(17, 27)) * _OVERSAMPLE
    dx, dy = (rng.integers(-3, 4, size=2) * _OVERSAMPLE).tolist()
    ImageDraw.Draw(image).text((big / 2 + dx, big / 2 + dy), char, font=_font(str(font), size), fill=ink,
                               anchor="mm")
    image = image.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR, fillcolor=background)
    return np.asarray(image.resize((SIZE, SIZE), Image.LANCZOS), dtype=np.uint8)


# ----------------------------------------------------------------------------------------- sprites (emoji, icons) ---
@dataclass(frozen=True)
class Sprite:
    """A cut-out image (RGBA, cropped to its content) drawn onto backgrounds: an emoji or an icon."""

    key: str
    image: Image.Image


def render_sprite(sprite: Sprite, rng: np.random.Generator) -> np.ndarray:
    """``sprite`` scaled to 60-95% of the frame, rotated up to 15 degrees, at a random offset on a light colour."""
    background = _light(rng)
    frame = Image.new("RGBA", (SIZE, SIZE), (*background, 255))
    side = max(8, int(round(SIZE * rng.uniform(0.6, 0.95))))
    art = sprite.image.copy()
    art.thumbnail((side, side), Image.LANCZOS)
    art = art.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR, expand=True)
    x = int(rng.integers(0, max(1, SIZE - art.width + 1)))
    y = int(rng.integers(0, max(1, SIZE - art.height + 1)))
    frame.alpha_composite(art, (x, y))
    return np.asarray(frame.convert("RGB"), dtype=np.uint8)


def _crop_alpha(image: Image.Image) -> Image.Image:
    box = image.getchannel("A").getbbox()
    return image.crop(box) if box else image


@functools.lru_cache(maxsize=1)
def emoji_table() -> tuple[tuple[str, str, str, str], ...]:
    """Single-code-point, fully-qualified emoji as ``(char, group, subgroup, name)``, in the file's CLDR order."""
    _require("unicode-data")
    rows, group, subgroup = [], "", ""
    for line in EMOJI_TEST.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line:
            points = [int(cp, 16) for cp in line.split(";")[0].split() if cp != "FE0F"]
            if len(points) == 1:
                name = line.split("#", 1)[1].split(maxsplit=2)[-1]
                rows.append((chr(points[0]), group, subgroup, name))
    return tuple(rows)


@functools.lru_cache(maxsize=4096)
def emoji_sprite(char: str) -> Sprite:
    """The Noto colour emoji for ``char`` (drawn once at the font's bitmap size of 109 px)."""
    _require("fonts-noto-color-emoji")
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((16, 16), char, font=_font(str(EMOJI_FONT), 109), embedded_color=True)
    return Sprite(f"U+{ord(char):04X}", _crop_alpha(canvas))


def icon_files(theme: str, size: str, context: str) -> list[Path]:
    """PNG icons of an installed theme (``oxygen``, ``adwaita`` or ``tango``) in one size folder and context,
    sorted."""
    _require(_ICON_PACKAGES[theme])
    return sorted((ICON_ROOTS[theme] / size / context).glob("*.png"))


@functools.lru_cache(maxsize=8192)
def icon_sprite(path: Path) -> Sprite:
    """An icon file as a sprite (cropped to its opaque part)."""
    with Image.open(path) as image:
        return Sprite(str(path), _crop_alpha(image.convert("RGBA")))


# ----------------------------------------------------------------------------------- photos and package arrays ---
def skimage_data():  # noqa: ANN201 (the skimage.data module)
    """``skimage.data``, or a one-line error naming the extra that installs scikit-image."""
    try:
        import skimage.data
    except ImportError:
        raise DataNotFoundError("This mini-zoo task draws on scikit-image's sample images; scikit-image is not "
                                "installed.", hint="pip install 'fennec[minizoo]'") from None
    return skimage.data


@functools.lru_cache(maxsize=64)
def package_image(name: str) -> np.ndarray:
    """An RGB ``uint8`` image that ships in a Python package: ``skimage:<fn>``, ``sklearn:<file>`` or
    ``matplotlib:<file>``."""
    origin, _, key = name.partition(":")
    if origin == "skimage":
        image = getattr(skimage_data(), key)()
        if key == "stereo_motorcycle":
            image = image[0]
    elif origin == "sklearn":
        from sklearn.datasets import load_sample_image

        image = load_sample_image(key)
    elif origin == "matplotlib":
        import matplotlib.cbook

        with Image.open(matplotlib.cbook.get_sample_data(key)) as opened:
            image = np.asarray(opened.convert("RGB"))
    else:
        raise ValueError(f"unknown image origin {origin!r} in {name!r}")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8) if image.max() <= 1 else image.astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def render_patch(name: str, rows: tuple[float, float], rng: np.random.Generator,
                 scale: tuple[float, float] = (0.08, 0.3), rotation: int = 0) -> np.ndarray:
    """A random square crop of a package image, taken inside the band of relative rows ``rows`` (so that the
    splits of a task come from disjoint parts of the image), its side a random fraction ``scale`` of the image's
    shorter side, resized to 32 x 32 and rotated by ``rotation`` quarter turns."""
    image = package_image(name)
    height, width = image.shape[:2]
    top, bottom = int(rows[0] * height), int(rows[1] * height)
    side = int(min(height, width) * rng.uniform(*scale))
    side = max(8, min(side, bottom - top, width))
    y = int(rng.integers(top, bottom - side + 1))
    x = int(rng.integers(0, width - side + 1))
    patch = Image.fromarray(image[y:y + side, x:x + side]).resize((SIZE, SIZE), Image.BILINEAR)
    if rng.random() < 0.5 and rotation == 0:
        patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
    return np.rot90(np.asarray(patch, dtype=np.uint8), k=rotation).copy()


def render_array(image: np.ndarray, rotation: int = 0) -> np.ndarray:
    """A small grey or RGB array (values in 0..1 or 0..255) resized to 32 x 32 RGB and rotated by quarter turns."""
    values = np.asarray(image, dtype=np.float64)
    values = values / values.max() if values.max() > 0 else values
    grey = Image.fromarray((values * 255).round().astype(np.uint8)).resize((SIZE, SIZE), Image.BILINEAR)
    rgb = np.asarray(grey.convert("RGB"), dtype=np.uint8)
    return np.rot90(rgb, k=rotation).copy()
