"""The mini-zoo's catalogue: every task's spec (labels, items, sizes, split, provenance and licence), in order.

Order matters: it is the order of :data:`~benchmark.minizoo.TASKS` (sources first), which the generator follows.
"""
from __future__ import annotations

import string
from functools import partial

from ._items import (
    GREEK,
    MATH,
    SCRIPTS,
    SYMBOLS,
    emoji,
    faces,
    font_style,
    greek,
    handwritten,
    handwritten_rotation,
    icon_theme,
    icons_by_context,
    icons_by_prefix,
    latin_source,
    math_symbols,
    patches,
    printed_digits,
    scripts,
    symbols_source,
)
from ._spec import TaskSpec

__all__ = ["all_specs"]

_SK = "scikit-image {0} (skimage.data; licences in each function's docstring: CC0 or public domain)"
_SOURCE_PHOTOS = {"astronaut": "skimage:astronaut", "camera": "skimage:camera", "coins": "skimage:coins",
                  "rocket": "skimage:rocket", "moon": "skimage:moon", "page": "skimage:page",
                  "text": "skimage:text", "china": "sklearn:china.jpg", "grace-hopper": "matplotlib:grace_hopper.jpg",
                  "motorcycle": "skimage:stereo_motorcycle"}
_ROTATION_PHOTOS = {"chelsea": "skimage:chelsea", "coffee": "skimage:coffee", "flower": "sklearn:flower.jpg",
                    "hubble": "skimage:hubble_deep_field", "clock": "skimage:clock"}
_MEDICAL = {"cell": "skimage:cell", "ihc": "skimage:immunohistochemistry", "retina": "skimage:retina",
            "microaneurysms": "skimage:microaneurysms"}
_SYNTHETIC = {"blobs": "skimage:binary_blobs", "checkerboard": "skimage:checkerboard",
              "colorwheel": "skimage:colorwheel", "horse": "skimage:horse", "logo": "skimage:logo",
              "phantom": "skimage:shepp_logan_phantom", "present": "matplotlib:Minduka_Present_Blue_Pack.png",
              "mpl-logo": "matplotlib:logo2.png"}
_SMILEYS = ("emotion", "face-hand", "face-sleepy", "face-tongue", "heart")  # none is an em_faces class
_TANGO = ("actions", "apps", "categories", "devices", "emotes", "mimetypes", "places", "status")
_TEXTURES = {"brick": "skimage:brick", "grass": "skimage:grass", "gravel": "skimage:gravel"}
_MPL_FONTS = "matplotlib's bundled fonts (DejaVu: Bitstream Vera licence; STIX: SIL OFL 1.1; BaKoMa Computer Modern)"
_NOTO = "Debian fonts-noto-core (Google Noto fonts, SIL OFL 1.1)"
_EMOJI = "Debian fonts-noto-color-emoji (Apache-2.0) + unicode-data emoji-test.txt groups (Unicode licence)"
_OXYGEN = "Debian oxygen-icon-theme (LGPL-3)"
_ADWAITA = "Debian adwaita-icon-theme (LGPL-3 / CC-BY-SA 3.0)"
_TANGO_SRC = "Debian tango-icon-theme (Tango Desktop Project icons, public domain)"
_EMOJI_PKGS = ("fonts-noto-color-emoji", "unicode-data")


def all_specs() -> list[TaskSpec]:
    """Every task, sources first."""
    return [*_source_specs(), *_glyph_specs(), *_handwriting_specs(), *_emoji_specs(), *_icon_specs(),
            *_photo_specs()]


def _source_specs() -> list[TaskSpec]:
    """The eight source tasks that pre-train the zoo, two per visual domain (PARC's controlled zoo pre-trains
    each architecture on several sources, so that what a model was trained on varies within an architecture)."""
    return [
        TaskSpec("src_glyphs", "glyphs", "which Latin letter (A-Z, a-z) in a Noto text font",
                 tuple(string.ascii_letters), latin_source, (3120, 520, 0), "global", _NOTO, "SIL OFL 1.1",
                 ("fonts-noto-core",)),
        TaskSpec("src_emoji", "emoji", "emoji subgroup among Objects, People & Body, Activities and Symbols", (),
                 partial(emoji, source_groups=("Objects", "People & Body", "Activities", "Symbols")),
                 (3000, 500, 0), "class", _EMOJI, "Apache-2.0", _EMOJI_PKGS),
        TaskSpec("src_icons", "icons", "Oxygen icon context (actions, apps, devices...)",
                 ("actions", "apps", "categories", "devices", "emblems", "places", "status"),
                 partial(icons_by_context, "oxygen", "32x32",
                         ("actions", "apps", "categories", "devices", "emblems", "places", "status")),
                 (3010, 490, 0), "class", _OXYGEN, "LGPL-3", ("oxygen-icon-theme",)),
        TaskSpec("src_photos", "photos", "which photograph a random crop comes from", tuple(sorted(_SOURCE_PHOTOS)),
                 lambda: patches({k: _SOURCE_PHOTOS[k] for k in sorted(_SOURCE_PHOTOS)}, scale=(0.05, 0.35)),
                 (3000, 500, 0), "class", _SK.format("+ sklearn china.jpg (CC BY 2.0) + matplotlib grace_hopper.jpg"),
                 "public domain / CC0 / CC BY 2.0"),
        TaskSpec("src_symbols", "glyphs", "which digit or ASCII punctuation mark in a Noto text font",
                 tuple(SYMBOLS), symbols_source, (3024, 504, 0), "global", _NOTO, "SIL OFL 1.1",
                 ("fonts-noto-core",)),
        TaskSpec("src_smileys", "emoji", "Smileys & Emotion subgroup outside the face targets (hearts, emotion...)",
                 _SMILEYS, partial(emoji, {k: ("Smileys & Emotion", k) for k in _SMILEYS}),
                 (3000, 500, 0), "class", _EMOJI, "Apache-2.0", _EMOJI_PKGS),
        TaskSpec("src_tango", "icons", "Tango icon context (actions, apps, devices, mimetypes...)", _TANGO,
                 partial(icons_by_context, "tango", "32x32", _TANGO), (3000, 500, 0), "class", _TANGO_SRC,
                 "public domain", ("tango-icon-theme",)),
        TaskSpec("src_synthetic", "photos", "which synthetic or graphic image a random crop comes from",
                 tuple(sorted(_SYNTHETIC)),
                 lambda: patches({k: _SYNTHETIC[k] for k in sorted(_SYNTHETIC)}, scale=(0.05, 0.35)),
                 (3000, 500, 0), "class", _SK.format("+ matplotlib sample_data (Minduka_Present_Blue_Pack.png, "
                 "logo2.png; matplotlib licence)"), "public domain / CC0 / matplotlib licence"),
    ]


def _glyph_specs() -> list[TaskSpec]:
    """Target tasks on printed characters."""
    return [
        TaskSpec("g_digits", "glyphs", "printed digit 0-9 in matplotlib's fonts", tuple(string.digits),
                 printed_digits, split="global", provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_greek", "glyphs", "printed lower-case Greek letter", tuple(GREEK), greek, split="global",
                 provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_math", "glyphs", "mathematical symbol", tuple(sorted(MATH)), math_symbols, split="global",
                 provenance=_MPL_FONTS, licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_style", "glyphs", "type style of a character: serif, sans-serif or monospace",
                 ("mono", "sans", "serif"), font_style, provenance=_MPL_FONTS,
                 licence="Bitstream Vera / SIL OFL 1.1"),
        TaskSpec("g_script", "glyphs", "writing system of a letter", tuple(sorted(SCRIPTS)), scripts,
                 provenance=_NOTO, licence="SIL OFL 1.1", packages=("fonts-noto-core",)),
    ]


def _handwriting_specs() -> list[TaskSpec]:
    """Target tasks on handwritten digit scans."""
    return [
        TaskSpec("hw_digits", "handwriting", "handwritten digit 0-9 (8x8 scans)", tuple(string.digits),
                 lambda: handwritten(str), provenance="scikit-learn load_digits (UCI Optical Recognition of "
                 "Handwritten Digits)", licence="CC BY 4.0"),
        TaskSpec("hw_parity", "handwriting", "whether a handwritten digit is even or odd", ("even", "odd"),
                 lambda: handwritten(lambda d: "even" if d % 2 == 0 else "odd"),
                 provenance="scikit-learn load_digits (UCI)", licence="CC BY 4.0"),
        TaskSpec("hw_rotation", "handwriting", "how far a handwritten digit is rotated (quarter turns)",
                 ("rot000", "rot090", "rot180", "rot270"), handwritten_rotation, split="global",
                 provenance="scikit-learn load_digits (UCI)", licence="CC BY 4.0"),
    ]


def _emoji_specs() -> list[TaskSpec]:
    """Target tasks on emoji."""
    return [
        TaskSpec("em_animals", "emoji", "kind of animal or plant emoji",
                 ("bird", "bug", "flower", "mammal", "marine", "plant", "reptile"),
                 partial(emoji, {k: ("Animals & Nature", v) for k, v in {
                     "bird": "animal-bird", "bug": "animal-bug", "flower": "plant-flower", "mammal": "animal-mammal",
                     "marine": "animal-marine", "plant": "plant-other", "reptile": "animal-reptile"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=_EMOJI_PKGS),
        TaskSpec("em_food", "emoji", "kind of food or drink emoji",
                 ("asian", "drink", "fruit", "prepared", "sweet", "vegetable"),
                 partial(emoji, {k: ("Food & Drink", v) for k, v in {
                     "asian": "food-asian", "drink": "drink", "fruit": "food-fruit", "prepared": "food-prepared",
                     "sweet": "food-sweet", "vegetable": "food-vegetable"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=_EMOJI_PKGS),
        TaskSpec("em_travel", "emoji", "kind of travel and places emoji",
                 ("air", "building", "ground", "sky", "time", "water"),
                 partial(emoji, {k: ("Travel & Places", v) for k, v in {
                     "air": "transport-air", "building": "place-building", "ground": "transport-ground",
                     "sky": "sky & weather", "time": "time", "water": "transport-water"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=_EMOJI_PKGS),
        TaskSpec("em_faces", "emoji", "expression of a face emoji",
                 ("affection", "cat", "concerned", "costume", "negative", "neutral", "smiling", "unwell"),
                 partial(emoji, {k: ("Smileys & Emotion", v) for k, v in {
                     "affection": "face-affection", "cat": "cat-face", "concerned": "face-concerned",
                     "costume": "face-costume", "negative": "face-negative", "neutral": "face-neutral-skeptical",
                     "smiling": "face-smiling", "unwell": "face-unwell"}.items()}),
                 provenance=_EMOJI, licence="Apache-2.0", packages=_EMOJI_PKGS),
    ]


def _icon_specs() -> list[TaskSpec]:
    """Target tasks on desktop icons."""
    return [
        TaskSpec("ic_adwaita", "icons", "context of a symbolic Adwaita icon",
                 ("actions", "categories", "devices", "emblems", "emotes", "mimetypes", "places", "status"),
                 partial(icons_by_context, "adwaita", "48x48", ("actions", "categories", "devices", "emblems",
                                                                  "emotes", "mimetypes", "places", "status")),
                 provenance=_ADWAITA, licence="LGPL-3 / CC-BY-SA 3.0", packages=("adwaita-icon-theme",)),
        TaskSpec("ic_status", "icons", "what a symbolic Adwaita status icon shows",
                 ("audio", "battery", "network", "weather"),
                 partial(icons_by_prefix, "adwaita", "48x48", "status", ("audio", "battery", "network", "weather")),
                 provenance=_ADWAITA, licence="LGPL-3 / CC-BY-SA 3.0", packages=("adwaita-icon-theme",)),
        TaskSpec("ic_mimetype", "icons", "media type of an Oxygen file-type icon",
                 ("application", "audio", "image", "text", "video"),
                 partial(icons_by_prefix, "oxygen", "48x48", "mimetypes",
                         ("application", "audio", "image", "text", "video")),
                 provenance=_OXYGEN, licence="LGPL-3", packages=("oxygen-icon-theme",)),
        TaskSpec("ic_theme", "icons", "which icon theme drew a full-colour icon", ("adwaita", "oxygen"),
                 icon_theme, provenance=f"{_ADWAITA}; {_OXYGEN}", licence="LGPL-3",
                 packages=("adwaita-icon-theme", "oxygen-icon-theme")),
    ]


def _photo_specs() -> list[TaskSpec]:
    """Target tasks on crops of photographs."""
    return [
        TaskSpec("ph_texture", "photos", "material of a texture crop", tuple(sorted(_TEXTURES)),
                 lambda: patches(_TEXTURES), provenance=_SK.format("textures (CC0Textures)"), licence="CC0"),
        TaskSpec("ph_medical", "photos", "which microscopy or fundus image a crop comes from", tuple(sorted(_MEDICAL)),
                 lambda: patches({k: _MEDICAL[k] for k in sorted(_MEDICAL)}), provenance=_SK.format("microscopy"),
                 licence="CC0 / public domain"),
        TaskSpec("ph_rotation", "photos", "how far a photo crop is rotated (quarter turns)",
                 ("rot000", "rot090", "rot180", "rot270"), lambda: patches(_ROTATION_PHOTOS, rotations=True),
                 split="global", provenance=_SK.format("+ sklearn flower.jpg (CC BY 2.0)"),
                 licence="CC0 / public domain / CC BY 2.0"),
        TaskSpec("ph_faces", "photos", "whether a small grey image is a face (LFW subset)", ("face", "non-face"),
                 faces, sizes=(120, 30, 50), provenance="scikit-image lfw_subset (Labeled Faces in the Wild, "
                 "Huang et al. 2007)", licence="research use (LFW)"),
    ]
