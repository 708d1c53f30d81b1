"""The renderable items of each mini-zoo task's classes: glyphs in fonts, digit scans, emoji, icons, photo patches.

Each function returns ``{label: [(group key, render), ...]}``; items that share a group key (a font, a scan, an
image region) never cross splits.
"""
from __future__ import annotations

import string
from collections.abc import Callable
from functools import partial

import numpy as np

from . import _sources as src
from ._spec import Item

__all__ = ["GREEK", "MATH", "SCRIPTS", "emoji", "faces", "font_style", "greek", "handwritten", "handwritten_rotation",
           "icon_theme", "icons_by_context", "icons_by_prefix", "latin_source", "math_symbols", "patches",
           "printed_digits", "scripts", "SYMBOLS", "symbols_source"]


def _glyph_items(chars_by_label: dict[str, str], fonts: list) -> dict[str, list[Item]]:
    """Each class: every (character, font) pair the font covers; the group key is the font."""
    items: dict[str, list[Item]] = {}
    for label, chars in chars_by_label.items():
        items[label] = [(str(font), partial(src.render_glyph, ch, font)) for ch in chars for font in fonts
                        if src.font_covers(font, ch)]
    return items


_MPL_LATIN = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "DejaVuSerif",
              "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic", "DejaVuSansMono",
              "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSansMono-BoldOblique", "STIXGeneral",
              "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta", "cmr10", "cmb10", "cmss10", "cmtt10",
              "cmti10")


def _mpl(stems) -> list:
    fonts = src.matplotlib_fonts()
    return [fonts[s] for s in stems if s in fonts]


def printed_digits() -> dict[str, list[Item]]:
    return _glyph_items({d: d for d in string.digits}, _mpl(_MPL_LATIN))


GREEK = "αβγδεζηθικλμνξοπρστυφχψω"


def greek() -> dict[str, list[Item]]:
    return _glyph_items({ch: ch for ch in GREEK}, _mpl(_MPL_LATIN))


MATH = {"sum": "∑", "product": "∏", "integral": "∫", "root": "√", "infinity": "∞", "approx": "≈",
         "not-equal": "≠", "less-equal": "≤", "greater-equal": "≥", "partial": "∂", "nabla": "∇", "element": "∈",
         "subset": "⊂", "union": "∪", "intersection": "∩", "plus-minus": "±"}


def math_symbols() -> dict[str, list[Item]]:
    return _glyph_items(MATH, _mpl(_MPL_LATIN))


_STYLE_FONTS = {"sans": ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "cmss10"),
                "serif": ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic",
                          "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta", "cmr10",
                          "cmb10", "cmti10"),
                "mono": ("DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique",
                         "DejaVuSansMono-BoldOblique", "cmtt10")}


def font_style() -> dict[str, list[Item]]:
    chars = string.ascii_letters + string.digits
    return {style: [(f"{font}:{ch}", partial(src.render_glyph, ch, font)) for font in _mpl(stems) for ch in chars
                    if src.font_covers(font, ch)]
            for style, stems in _STYLE_FONTS.items()}


SCRIPTS = {  # script: (Noto file-name pattern, code-point range of its letters)
    "arabic": (r"NotoSansArabic-(Regular|Bold)", (0x0627, 0x064A)),
    "armenian": (r"NotoSansArmenian-(Regular|Bold)", (0x0531, 0x0556)),
    "bengali": (r"NotoSansBengali-(Regular|Bold)", (0x0985, 0x09B9)),
    "cherokee": (r"NotoSansCherokee-(Regular|Bold)", (0x13A0, 0x13F4)),
    "cyrillic": (r"NotoSans-(Regular|Bold)", (0x0410, 0x044F)),
    "devanagari": (r"NotoSansDevanagari-(Regular|Bold)", (0x0905, 0x0939)),
    "ethiopic": (r"NotoSansEthiopic-(Regular|Bold)", (0x1200, 0x1357)),
    "georgian": (r"NotoSansGeorgian-(Regular|Bold)", (0x10D0, 0x10FA)),
    "greek": (r"NotoSans-(Regular|Bold)", (0x0391, 0x03C9)),
    "hebrew": (r"NotoSansHebrew-(Regular|Bold)", (0x05D0, 0x05EA)),
    "latin": (r"NotoSans-(Regular|Bold)", (0x0041, 0x007A)),
    "thai": (r"NotoSansThai-(Regular|Bold)", (0x0E01, 0x0E2E)),
}


def scripts() -> dict[str, list[Item]]:
    """Script identification: each item a letter (group key) of the script in its Noto fonts."""
    items: dict[str, list[Item]] = {}
    for script, (pattern, (first, last)) in SCRIPTS.items():
        fonts = src.noto_fonts(pattern)
        chars = [chr(cp) for cp in range(first, last + 1) if chr(cp).isalpha()]
        items[script] = [(f"{script}:{ch}", partial(src.render_glyph, ch, font)) for ch in chars for font in fonts
                         if src.font_covers(font, ch)]
    return items


_NOTO_TEXT_FONTS = r"Noto(Sans|Serif|SansMono|SansDisplay|SerifDisplay)-[A-Za-z]+"


def latin_source() -> dict[str, list[Item]]:
    return _glyph_items({ch: ch for ch in string.ascii_letters}, src.noto_fonts(_NOTO_TEXT_FONTS))


#: Digits and ASCII punctuation: the printed-symbol source, drawn in Noto fonts (the glyph targets use matplotlib's).
SYMBOLS = string.digits + string.punctuation


def symbols_source() -> dict[str, list[Item]]:
    return _glyph_items({ch: ch for ch in SYMBOLS}, src.noto_fonts(_NOTO_TEXT_FONTS))


def _digit_scans() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def handwritten(label_of: Callable[[int], str]) -> dict[str, list[Item]]:
    images, targets = _digit_scans()
    items: dict[str, list[Item]] = {}
    for i, (image, target) in enumerate(zip(images, targets)):
        items.setdefault(label_of(int(target)), []).append((f"scan{i}", lambda rng, im=image: src.render_array(im)))
    return dict(sorted(items.items()))


def handwritten_rotation() -> dict[str, list[Item]]:
    images, _ = _digit_scans()
    return {f"rot{90 * k:03d}": [(f"scan{i}", lambda rng, im=im, k=k: src.render_array(im, rotation=k))
                                 for i, im in enumerate(images)] for k in range(4)}


def emoji(groups: dict[str, tuple[str, str]] | None = None, min_count: int = 6,
           source_groups: tuple[str, ...] = ()) -> dict[str, list[Item]]:
    """Emoji items by label: ``groups`` maps a label to ``(group, subgroup)``; with ``source_groups``, every
    subgroup of those groups with at least ``min_count`` emoji is a label."""
    table = src.emoji_table()
    if groups is None:
        counts: dict[str, int] = {}
        for _, group, subgroup, _ in table:
            if group in source_groups:
                counts[subgroup] = counts.get(subgroup, 0) + 1
        groups = {sub: (g, sub) for _, g, sub, _ in table if counts.get(sub, 0) >= min_count}
    wanted = {pair: label for label, pair in groups.items()}
    items: dict[str, list[Item]] = {label: [] for label in sorted(groups)}
    for char, group, subgroup, _ in table:
        label = wanted.get((group, subgroup))
        if label is not None:
            items[label].append((f"U+{ord(char):04X}", lambda rng, c=char: src.render_sprite(src.emoji_sprite(c), rng)))
    return items


def _icon_item(path) -> Item:
    return (path.stem.split(".")[0].removesuffix("-symbolic"),
            lambda rng, p=path: src.render_sprite(src.icon_sprite(p), rng))


def icons_by_context(theme: str, size: str, contexts: tuple[str, ...]) -> dict[str, list[Item]]:
    return {ctx: [_icon_item(p) for p in src.icon_files(theme, size, ctx)] for ctx in contexts}


def icons_by_prefix(theme: str, size: str, context: str, prefixes: tuple[str, ...]) -> dict[str, list[Item]]:
    files = src.icon_files(theme, size, context)
    return {pre: [_icon_item(p) for p in files if p.name.startswith(pre + "-")] for pre in prefixes}


def icon_theme() -> dict[str, list[Item]]:
    """Which theme drew a full-colour icon: Adwaita's legacy set or Oxygen (both at 48 px)."""
    adwaita = [p for p in src.icon_files("adwaita", "48x48", "legacy") if ".symbolic" not in p.name]
    oxygen = [p for ctx in ("actions", "apps", "devices", "places", "status")
              for p in src.icon_files("oxygen", "48x48", ctx)]
    return {"adwaita": [_icon_item(p) for p in adwaita], "oxygen": [_icon_item(p) for p in oxygen]}


_BANDS = {"train": (0.0, 0.6), "val": (0.6, 0.75), "test": (0.75, 1.0)}


def patches(images: dict[str, str], rotations: bool = False, scale=(0.08, 0.3)) -> dict[str, list[Item]]:
    """Photo-patch items: one per (image, split band); with ``rotations`` the label is the quarter turn."""
    def item(name, band, k=0):
        return (f"{name}@{band}", lambda rng: src.render_patch(name, _BANDS[band], rng, scale, rotation=k))

    if rotations:
        return {f"rot{90 * k:03d}": [item(n, b, k) for n in images.values() for b in _BANDS] for k in range(4)}
    return {label: [item(name, band) for band in _BANDS] for label, name in images.items()}


def faces() -> dict[str, list[Item]]:
    images = src.skimage_data().lfw_subset()  # 100 faces then 100 non-faces (skimage's documented order)
    return {"face": [(f"lfw{i}", lambda rng, im=images[i]: src.render_array(im)) for i in range(100)],
            "non-face": [(f"lfw{i}", lambda rng, im=images[i]: src.render_array(im)) for i in range(100, 200)]}
