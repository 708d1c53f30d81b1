"""The mini-zoo: a transfer benchmark built entirely here, from real images to fine-tuned accuracies.

- 28 image classification tasks from 5 visual domains (glyphs, handwriting, emoji, icons, photos), rendered from
  images that ship in Python packages (scikit-learn, scikit-image, matplotlib) and Debian packages (Noto fonts and
  colour emoji, Oxygen, Adwaita and Tango icons), with fixed train / val / test splits, provenance and licence
  (:data:`TASKS`); 8 are pre-training sources (two per domain but handwriting), 20 are targets.
- A zoo of 48 models: 6 small timm architectures x 8 source tasks, pre-trained with one recipe and fine-tuned on
  every target with one protocol (:data:`ZOO`, :data:`RECIPE`, :data:`PROTOCOL`).
- A resumable generator (``python -m benchmark.minizoo build|generate|status``) and the committed artefacts it
  produced, loaded by :func:`load_minizoo`; :func:`export_images` writes a built task as class folders.

Examples
--------
>>> from benchmark.minizoo import TARGET_TASKS, ZOO
>>> len(ZOO), len(TARGET_TASKS)
(48, 20)
"""
from ._generate import Generator, select_records
from ._loader import CITATION, LiveMetric, load_minizoo, model_spec, zoo_model
from ._store import export_images
from ._tasks import SOURCE_TASKS, TARGET_TASKS, TASKS, BuiltTask, TaskSpec, build_task, get_task
from ._train import PROTOCOL, RECIPE, Protocol, Recipe
from ._zoo import ARCHS, ZOO

__all__ = ["load_minizoo", "LiveMetric", "zoo_model", "model_spec", "Generator", "select_records", "TASKS",
           "SOURCE_TASKS", "TARGET_TASKS", "TaskSpec", "BuiltTask", "build_task", "get_task", "ARCHS", "ZOO",
           "RECIPE", "PROTOCOL", "Recipe", "Protocol", "CITATION", "export_images"]
