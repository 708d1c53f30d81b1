"""Cold-start transferability metrics: score a (pre-trained model, target task) pair without fine-tuning.

Every metric is a pure function ``metric(x, labels, *, device=None, **options) -> float`` where higher means
"expected to fine-tune better". ``x`` is the candidate model's features on the task's labelled samples (N, D), or,
for LEEP and NCE, its source classifier's softmax outputs (N, K): :func:`get` tells which (``get(name).input``).

Conventions shared by all metrics:

- ``x`` may be a NumPy array or a torch tensor; it is never modified. Computation runs in torch on ``device``
  (default: the tensor's device, else the CPU), in float64 unless ``dtype=torch.float32`` is passed.
- ``labels`` may be any values (non-contiguous ints, strings, bools): they are remapped to ``0..C-1`` in sorted
  order (``np.unique``), so renaming classes never changes a score.
- Bad input raises :class:`fennec.errors.InputError` with a hint: NaN/inf, wrong shape or length, empty input,
  fewer than two classes. A class with a single sample is accepted by every metric.

Examples
--------
>>> import numpy as np
>>> from fennec import metrics
>>> rng = np.random.default_rng(0)
>>> y = rng.choice(["cat", "dog", "fox"], size=200)
>>> x = rng.normal(size=(200, 16)) + 4 * (y == "dog")[:, None]
>>> {name: metrics.get(name)(x, y) > metrics.get(name)(x, rng.permutation(y))
...  for name in ["logme", "sfda"]}
{'logme': True, 'sfda': True}
"""
from fennec.metrics._gbc import gbc
from fennec.metrics._hscore import hscore, hscore_reg
from fennec.metrics._knn import knn
from fennec.metrics._leep import leep, nce
from fennec.metrics._logme import logme
from fennec.metrics._nleep import nleep
from fennec.metrics._parc import parc
from fennec.metrics._registry import Metric, available, get
from fennec.metrics._sfda import sfda
from fennec.metrics._transrate import transrate

__all__ = ["logme", "sfda", "nleep", "leep", "nce", "hscore", "hscore_reg", "knn", "gbc", "transrate", "parc",
           "Metric", "get", "available"]
