"""The mini-zoo's image classification tasks: what each predicts, where its images come from, how it is split.

A task is a :class:`TaskSpec`: label names, a function that lists the renderable *items* of each class (a glyph in
one font, an emoji, an icon file, a band of a photo, a digit scan), how items are divided between the splits
(``split``), and the sizes of the fixed train / val / test splits. :func:`build_task` renders the splits from a seed;
items never cross splits, so a test image is always of an unseen font, emoji, icon, image region or scan.

Four *source* tasks pre-train the zoo; the *target* tasks receive the fine-tuning records.
"""
from __future__ import annotations

import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fennec.errors import UnknownNameError

from . import _sources as src

__all__ = ["TaskSpec", "BuiltTask", "TASKS", "SOURCE_TASKS", "TARGET_TASKS", "get_task", "build_task", "task_seed"]

Render = Callable[[np.random.Generator], np.ndarray]
Item = tuple[str, Render]  # (group key: items with one key never cross splits, renderer)
FRACTIONS = (0.6, 0.15, 0.25)  # share of each class's items (or of all groups) in train, val, test
SEED = 20240611


@dataclass(frozen=True)
class TaskSpec:
    """One task of the mini-zoo.

    Parameters
    ----------
    name : str
        Task id (``src_*`` for the pre-training sources).
    domain : str
        Visual domain: ``glyphs``, ``handwriting``, ``emoji``, ``icons`` or ``photos``.
    description : str
        What is predicted.
    labels : tuple of str
        Class names; class ``i`` of the arrays is ``labels[i]`` (also the folder names of the exported images).
    items : callable
        ``items() -> {label: [(group, render), ...]}``.
    sizes : tuple of int
        Images in train, val and test (split evenly over classes).
    split : str
        ``"class"``: each class's items are divided in :data:`FRACTIONS`; ``"global"``: the distinct group keys
        (fonts, scans) are divided once, across classes.
    provenance, licence : str
        Where the images come from and under which terms.
    packages : tuple of str
        Debian packages the images need (empty: everything ships in Python packages).
    """

    name: str
    domain: str
    description: str
    labels: tuple[str, ...]
    items: Callable[[], dict[str, list[Item]]] = field(repr=False)
    sizes: tuple[int, int, int] = (240, 120, 240)
    split: str = "class"
    provenance: str = ""
    licence: str = ""
    packages: tuple[str, ...] = ()

    @property
    def is_source(self) -> bool:
        return self.name.startswith("src_")

    def card_fields(self) -> dict[str, Any]:
        """The spec's JSON-serialisable description (what the manifest and task cards record)."""
        return {"name": self.name, "domain": self.domain, "description": self.description,
                "labels": list(self.labels), "sizes": list(self.sizes), "split": self.split,
                "provenance": self.provenance, "licence": self.licence, "packages": list(self.packages),
                "role": "source" if self.is_source else "target"}


# ------------------------------------------------------------------------------------------------- item lists ---
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


def _printed_digits() -> dict[str, list[Item]]:
    return _glyph_items({d: d for d in string.digits}, _mpl(_MPL_LATIN))


_GREEK = "αβγδεζηθικλμνξοπρστυφχψω"


def _greek() -> dict[str, list[Item]]:
    return _glyph_items({ch: ch for ch in _GREEK}, _mpl(_MPL_LATIN))


_MATH = {"sum": "∑", "product": "∏", "integral": "∫", "root": "√", "infinity": "∞", "approx": "≈",
         "not-equal": "≠", "less-equal": "≤", "greater-equal": "≥", "partial": "∂", "nabla": "∇", "element": "∈",
         "subset": "⊂", "union": "∪", "intersection": "∩", "plus-minus": "±"}


def _math() -> dict[str, list[Item]]:
    return _glyph_items(_MATH, _mpl(_MPL_LATIN))


_STYLE_FONTS = {"sans": ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "cmss10"),
                "serif": ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic",
                          "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta", "cmr10",
                          "cmb10", "cmti10"),
                "mono": ("DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique",
                         "DejaVuSansMono-BoldOblique", "cmtt10")}


def _font_style() -> dict[str, list[Item]]:
    chars = string.ascii_letters + string.digits
    return {style: [(f"{font}:{ch}", partial(src.render_glyph, ch, font)) for font in _mpl(stems) for ch in chars
                    if src.font_covers(font, ch)]
            for style, stems in _STYLE_FONTS.items()}


_SCRIPTS = {  # script: (Noto file-name pattern, code-point range of its letters)
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


def _scripts() -> dict[str, list[Item]]:
    """Script identification: each item a letter (group key) of the script in its Noto fonts."""
    items: dict[str, list[Item]] = {}
    for script, (pattern, (first, last)) in _SCRIPTS.items():
        fonts = src.noto_fonts(pattern)
        chars = [chr(cp) for cp in range(first, last + 1) if chr(cp).isalpha()]
        items[script] = [(f"{script}:{ch}", partial(src.render_glyph, ch, font)) for ch in chars for font in fonts
                         if src.font_covers(font, ch)]
    return items


def _latin_source() -> dict[str, list[Item]]:
    fonts = src.noto_fonts(r"Noto(Sans|Serif|SansMono|SansDisplay|SerifDisplay)-[A-Za-z]+")
    return _glyph_items({ch: ch for ch in string.ascii_letters}, fonts)


def _digit_scans() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def _handwritten(label_of: Callable[[int], str]) -> dict[str, list[Item]]:
    images, targets = _digit_scans()
    items: dict[str, list[Item]] = {}
    for i, (image, target) in enumerate(zip(images, targets)):
        items.setdefault(label_of(int(target)), []).append((f"scan{i}", lambda rng, im=image: src.render_array(im)))
    return dict(sorted(items.items()))


def _handwritten_rotation() -> dict[str, list[Item]]:
    images, _ = _digit_scans()
    return {f"rot{90 * k:03d}": [(f"scan{i}", lambda rng, im=im, k=k: src.render_array(im, rotation=k))
                                 for i, im in enumerate(images)] for k in range(4)}


def _emoji(groups: dict[str, tuple[str, str]] | None = None, min_count: int = 6,
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


def _icons_by_context(theme: str, size: str, contexts: tuple[str, ...]) -> dict[str, list[Item]]:
    return {ctx: [_icon_item(p) for p in src.icon_files(theme, size, ctx)] for ctx in contexts}


def _icons_by_prefix(theme: str, size: str, context: str, prefixes: tuple[str, ...]) -> dict[str, list[Item]]:
    files = src.icon_files(theme, size, context)
    return {pre: [_icon_item(p) for p in files if p.name.startswith(pre + "-")] for pre in prefixes}


def _icon_theme() -> dict[str, list[Item]]:
    """Which theme drew a full-colour icon: Adwaita's legacy set or Oxygen (both at 48 px)."""
    adwaita = [p for p in src.icon_files("adwaita", "48x48", "legacy") if ".symbolic" not in p.name]
    oxygen = [p for ctx in ("actions", "apps", "devices", "places", "status")
              for p in src.icon_files("oxygen", "48x48", ctx)]
    return {"adwaita": [_icon_item(p) for p in adwaita], "oxygen": [_icon_item(p) for p in oxygen]}


_BANDS = {"train": (0.0, 0.6), "val": (0.6, 0.75), "test": (0.75, 1.0)}


def _patches(images: dict[str, str], rotations: bool = False, scale=(0.08, 0.3)) -> dict[str, list[Item]]:
    """Photo-patch items: one per (image, split band); with ``rotations`` the label is the quarter turn."""
    def item(name, band, k=0):
        return (f"{name}@{band}", lambda rng: src.render_patch(name, _BANDS[band], rng, scale, rotation=k))

    if rotations:
        return {f"rot{90 * k:03d}": [item(n, b, k) for n in images.values() for b in _BANDS] for k in range(4)}
    return {label: [item(name, band) for band in _BANDS] for label, name in images.items()}


def _faces() -> dict[str, list[Item]]:
    import skimage.data

    images = skimage.data.lfw_subset()  # 100 faces then 100 non-faces (skimage's documented order)
    return {"face": [(f"lfw{i}", lambda rng, im=images[i]: src.render_array(im)) for i in range(100)],
            "non-face": [(f"lfw{i}", lambda rng, im=images[i]: src.render_array(im)) for i in range(100, 200)]}


# --------------------------------------------------------------------------------------------------- registry ---
_SK = "scikit-image {0} (skimage.data; licences in each function's docstring: CC0 or public domain)"
_SOURCE_PHOTOS = {"astronaut": "skimage:astronaut", "camera": "skimage:camera", "coins": "skimage:coins",
                  "rocket": "skimage:rocket", "moon": "skimage:moon", "page": "skimage:page",
                  "text": "skimage:text", "china": "sklearn:china.jpg", "grace-hopper": "matplotlib:grace_hopper.jpg",
                  "motorcycle": "skimage:stereo_motorcycle"}
_ROTATION_PHOTOS = {"chelsea": "skimage:chelsea", "coffee": "skimage:coffee", "flower": "sklearn:flower.jpg",
                    "hubble": "skimage:hubble_deep_field", "clock": "skimage:clock"}
_MEDICAL = {"cell": "skimage:cell", "ihc": "skimage:immunohistochemistry", "retina": "skimage:retina",
            "microaneurysms": "skimage:microaneurysms"}
_TEXTURES = {"brick": "skimage:brick", "grass": "skimage:grass", "gravel": "skimage:gravel"}
_MPL_FONTS = "matplotlib's bundled fonts (DejaVu: Bitstream Vera licence; STIX: SIL OFL 1.1; BaKoMa Computer Modern)"
_NOTO = "Debian fonts-noto-core (Google Noto fonts, SIL OFL 1.1)"
_EMOJI = "Debian fonts-noto-color-emoji (Apache-2.0) + unicode-data emoji-test.txt groups (Unicode licence)"
_OXYGEN = "Debian oxygen-icon-theme (LGPL-3)"
_ADWAITA = "Debian adwaita-icon-theme (LGPL-3 / CC-BY-SA 3.0)"


def _specs() -> list[TaskSpec]:
    emoji_pkgs = ("fonts-noto-color-emoji", "unicode-data")
    return [
        # --- sources (pre-training) ---
        TaskSpec("src_glyphs", "glyphs", "which Latin letter (A-Z, a-z) in a Noto text font",
                 tuple(string.ascii_letters), _latin_source, (3120, 520, 0), "global", _NOTO, "SIL OFL 1.1",
                 ("fonts-noto-core",)),
        TaskSpec("src_emoji", "emoji", "emoji subgroup among Objects, People & Body, Activities and Symbols", (),
                 partial(_emoji, source_groups=("Objects", "People & Body", "Activities", "Symbols")),
                 (3000, 500, 0), "class", _EMOJI, "Apache-2.0", emoji_pkgs),
        TaskSpec("src_icons", "icons", "Oxygen icon context (actions, apps, devices...)",
                 ("actions", "apps", "categories", "devices", "emblems", "places", "status"),
                 partial(_icons_by_context, "oxygen", "32x32",
                         ("actions", "apps", "categories", "devices", "emblems", "places", "status")),
                 (3010, 490, 0), "class", _OXYGEN, "LGPL-3", ("oxygen-icon-theme",)),
        TaskSpec("src_photos", "photos", "which photograph a random crop comes from", tuple(sorted(_SOURCE_PHOTOS)),
                 lambda: _patches({k: _SOURCE_PHOTOS[k] for k in sorted(_SOURCE_PHOTOS)}, scale=(0.05, 0.35)),
                 (3000, 500, 0), "class", _SK.format("+ sklearn china.jpg (CC BY 2.0) + matplotlib grace_hopper.jpg"),
                 "public domain / CC0 / CC BY 2.0"),
        # --- targets: glyphs ---
        TaskSpec("g_digits", "glyphs", "printed digit 0-9 in matplotlib's fonts", tuple(string.digits),
                 _printed_digits, split="global", provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_greek", "glyphs", "printed lower-case Greek letter", tuple(_GREEK), _greek, split="global",
                 provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_math", "glyphs", "mathematical symbol", tuple(sorted(_MATH)), _math, split="global",
                 provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_style", "glyphs", "type style of a character: serif, sans-serif or monospace",
                 ("mono", "sans", "serif"), _font_style, provenance=_MPL_FONTS,
                 licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_script", "glyphs", "writing system of a letter", tuple(sorted(_SCRIPTS)), _scripts,
                 provenance=_NOTO, licence="SIL OFL 1.1", packages=("fonts-noto-core",)),
        # --- targets: handwriting ---
        TaskSpec("hw_digits", "handwriting", "handwritten digit 0-9 (8x8 scans)", tuple(string.digits),
                 lambda: _handwritten(str), provenance="scikit-learn load_digits (UCI Optical Recognition of "
                 "Handwritten Digits)", licence="CC BY 4.0"),
        TaskSpec("hw_parity", "handwriting", "whether a handwritten digit is even or odd", ("even", "odd"),
                 lambda: _handwritten(lambda d: "even" if d % 2 == 0 else "odd"),
                 provenance="scikit-learn load_digits (UCI)", licence="CC BY 4.0"),
        TaskSpec("hw_rotation", "handwriting", "how far a handwritten digit is rotated (quarter turns)",
                 ("rot000", "rot090", "rot180", "rot270"), _handwritten_rotation, split="global",
                 provenance="scikit-learn load_digits (UCI)", licence="CC BY 4.0"),
        # --- targets: emoji ---
        TaskSpec("em_animals", "emoji", "kind of animal or plant emoji",
                 ("bird", "bug", "flower", "mammal", "marine", "plant", "reptile"),
                 partial(_emoji, {k: ("Animals & Nature", v) for k, v in {
                     "bird": "animal-bird", "bug": "animal-bug", "flower": "plant-flower", "mammal": "animal-mammal",
                     "marine": "animal-marine", "plant": "plant-other", "reptile": "animal-reptile"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=emoji_pkgs),
        TaskSpec("em_food", "emoji", "kind of food or drink emoji",
                 ("asian", "drink", "fruit", "prepared", "sweet", "vegetable"),
                 partial(_emoji, {k: ("Food & Drink", v) for k, v in {
                     "asian": "food-asian", "drink": "drink", "fruit": "food-fruit", "prepared": "food-prepared",
                     "sweet": "food-sweet", "vegetable": "food-vegetable"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=emoji_pkgs),
        TaskSpec("em_travel", "emoji", "kind of travel and places emoji",
                 ("air", "building", "ground", "sky", "time", "water"),
                 partial(_emoji, {k: ("Travel & Places", v) for k, v in {
                     "air": "transport-air", "building": "place-building", "ground": "transport-ground",
                     "sky": "sky & weather", "time": "time", "water": "transport-water"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=emoji_pkgs),
        TaskSpec("em_faces", "emoji", "expression of a face emoji",
                 ("affection", "cat", "concerned", "costume", "negative", "neutral", "smiling", "unwell"),
                 partial(_emoji, {k: ("Smileys & Emotion", v) for k, v in {
                     "affection": "face-affection", "cat": "cat-face", "concerned": "face-concerned",
                     "costume": "face-costume", "negative": "face-negative", "neutral": "face-neutral-skeptical",
                     "smiling": "face-smiling", "unwell": "face-unwell"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=emoji_pkgs),
        # --- targets: icons ---
        TaskSpec("ic_adwaita", "icons", "context of a symbolic Adwaita icon",
                 ("actions", "categories", "devices", "emblems", "emotes", "mimetypes", "places", "status"),
                 partial(_icons_by_context, "adwaita", "48x48", ("actions", "categories", "devices", "emblems",
                                                                  "emotes", "mimetypes", "places", "status")),
                 provenance=_ADWAITA, licence="LGPL-3 / CC-BY-SA 3.0", packages=("adwaita-icon-theme",)),
        TaskSpec("ic_status", "icons", "what a symbolic Adwaita status icon shows",
                 ("audio", "battery", "network", "weather"),
                 partial(_icons_by_prefix, "adwaita", "48x48", "status", ("audio", "battery", "network", "weather")),
                 provenance=_ADWAITA, licence="LGPL-3 / CC-BY-SA 3.0", packages=("adwaita-icon-theme",)),
        TaskSpec("ic_mimetype", "icons", "media type of an Oxygen file-type icon",
                 ("application", "audio", "image", "text", "video"),
                 partial(_icons_by_prefix, "oxygen", "48x48", "mimetypes",
                         ("application", "audio", "image", "text", "video")),
                 provenance=_OXYGEN, licence="LGPL-3", packages=("oxygen-icon-theme",)),
        TaskSpec("ic_theme", "icons", "which icon theme drew a full-colour icon", ("adwaita", "oxygen"),
                 _icon_theme, provenance=f"{_ADWAITA}; {_OXYGEN}", licence="LGPL-3",
                 packages=("adwaita-icon-theme", "oxygen-icon-theme")),
        # --- targets: photos ---
        TaskSpec("ph_texture", "photos", "material of a texture crop", tuple(sorted(_TEXTURES)),
                 lambda: _patches(_TEXTURES), provenance=_SK.format("textures (CC0Textures)"), licence="CC0"),
        TaskSpec("ph_medical", "photos", "which microscopy or fundus image a crop comes from", tuple(sorted(_MEDICAL)),
                 lambda: _patches({k: _MEDICAL[k] for k in sorted(_MEDICAL)}), provenance=_SK.format("microscopy"),
                 licence="CC0 / public domain"),
        TaskSpec("ph_rotation", "photos", "how far a photo crop is rotated (quarter turns)",
                 ("rot000", "rot090", "rot180", "rot270"), lambda: _patches(_ROTATION_PHOTOS, rotations=True),
                 split="global", provenance=_SK.format("+ sklearn flower.jpg (CC BY 2.0)"),
                 licence="CC0 / public domain / CC BY 2.0"),
        TaskSpec("ph_faces", "photos", "whether a small grey image is a face (LFW subset)", ("face", "non-face"),
                 _faces, sizes=(120, 30, 50), provenance="scikit-image lfw_subset (Labeled Faces in the Wild, "
                 "Huang et al. 2007)", licence="research use (LFW)"),
    ]


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _specs()}
SOURCE_TASKS = tuple(name for name, spec in TASKS.items() if spec.is_source)
TARGET_TASKS = tuple(name for name, spec in TASKS.items() if not spec.is_source)


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name`` (raises :class:`~fennec.errors.UnknownNameError` listing the known tasks)."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError.of("minizoo task", name, TASKS) from None


def task_seed(name: str, seed: int = SEED) -> list[int]:
    """The seed sequence of a task (stable across Python runs: a CRC of the name, not ``hash``)."""
    return [seed, zlib.crc32(name.encode())]


# ---------------------------------------------------------------------------------------------------- building ---
@dataclass
class BuiltTask:
    """The rendered splits of one task: ``arrays["x_train"]`` of shape (n, 32, 32, 3) uint8, ``arrays["y_train"]``
    int64 class indices into ``labels``, and so on for ``val`` and ``test`` (absent when a split is empty)."""

    spec: TaskSpec
    labels: tuple[str, ...]
    arrays: dict[str, np.ndarray]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.arrays[f"x_{name}"], self.arrays[f"y_{name}"]


def _cut(keys: list[str], rng: np.random.Generator, fractions: tuple[float, ...]) -> list[list[str]]:
    """Shuffle ``keys`` and cut them by ``fractions``, giving every split with a positive share at least one key."""
    keys = [keys[i] for i in rng.permutation(len(keys))]
    active = [i for i, f in enumerate(fractions) if f > 0]
    if len(keys) < len(active):
        raise ValueError(f"{len(keys)} item groups cannot fill {len(active)} splits")
    counts = [int(round(f * len(keys))) if f > 0 else 0 for f in fractions]
    for i in active:  # every active split gets at least one group; the largest gives them up
        if counts[i] == 0:
            counts[i] = 1
            counts[int(np.argmax(counts))] -= 1
    counts[active[0]] += len(keys) - sum(counts)
    bounds = np.cumsum([0, *counts])
    return [keys[bounds[i]:bounds[i + 1]] for i in range(len(fractions))]


def _split_items(items: dict[str, list[Item]], labels: tuple[str, ...], mode: str, rng: np.random.Generator,
                 fractions: tuple[float, ...]) -> list[dict[str, list[Item]]]:
    """Items of each split by label; all items sharing a group key land in the same split."""
    if mode == "global":
        groups = sorted({g for label in labels for g, _ in items[label]})
        assignment = {g: s for s, part in enumerate(_cut(groups, rng, fractions)) for g in part}
        splits: list[dict[str, list[Item]]] = [{label: [] for label in labels} for _ in fractions]
        for label in labels:
            for item in items[label]:
                splits[assignment[item[0]]][label].append(item)
        return splits
    splits = [{} for _ in fractions]
    for label in labels:
        groups = sorted({g for g, _ in items[label]})
        for s, part in enumerate(_cut(groups, rng, fractions)):
            keep = set(part)
            splits[s][label] = [item for item in items[label] if item[0] in keep]
    return splits


def _sample(items: dict[str, list[Item]], labels: tuple[str, ...], n: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images balanced over classes; a class's items are used in shuffled passes, each drawn once per pass."""
    xs, ys = [], []
    for c, label in enumerate(labels):
        pool = items[label]
        n_c = n // len(labels) + (1 if c < n % len(labels) else 0)
        order: list[int] = []
        while len(order) < n_c:
            order.extend(rng.permutation(len(pool)).tolist())
        for i in order[:n_c]:
            xs.append(pool[i][1](rng))
            ys.append(c)
    return np.stack(xs).astype(np.uint8), np.asarray(ys, dtype=np.int64)


def build_task(spec: TaskSpec, seed: int = SEED) -> BuiltTask:
    """Render the fixed train / val / test splits of ``spec`` (the same arrays for the same seed).

    Raises
    ------
    fennec.errors.DataNotFoundError
        A Debian package the task needs is not installed.
    """
    rng = np.random.default_rng(task_seed(spec.name, seed))
    items = spec.items()
    labels = spec.labels or tuple(sorted(label for label, pool in items.items() if pool))
    empty = [label for label in labels if not items.get(label)]
    if empty:
        raise ValueError(f"task {spec.name!r} has no images for classes {empty}")
    fractions = FRACTIONS if spec.sizes[2] > 0 else (0.85, 0.15, 0.0)
    splits = _split_items(items, labels, spec.split, rng, fractions)
    arrays: dict[str, np.ndarray] = {}
    for split, part, n in zip(("train", "val", "test"), splits, spec.sizes):
        if n > 0:
            arrays[f"x_{split}"], arrays[f"y_{split}"] = _sample(part, labels, n, rng)
    return BuiltTask(spec, labels, arrays)
