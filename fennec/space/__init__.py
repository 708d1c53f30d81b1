"""The transfer space: models and tasks as vectors whose inner product predicts how well a model fine-tunes on a task.

After Fennec (Bai et al., 2024, https://arxiv.org/abs/2403.06382):

.. math::

    \\mathrm{score}(m, t) = b_m + \\langle u_m, v_t \\rangle, \\qquad u_m = e_m + A(\\phi_m)

with ``b_m`` the model's prior quality (its shrunk mean normalised value: popularity), free embeddings ``e`` and an
encoder ``A`` of model side features ``phi`` (what a model is: archi2vec vector, metadata). :class:`TransferSpace`
is the one public estimator; its parts are modules of this package, each readable alone:

============================  =====================================================================================
``_estimator``                :class:`TransferSpace`: parameters, ``fit`` / ``update`` / ``add_model``, queries
``_records``, ``_features``   the records and side features as arrays, checked at the boundary
``_bias``                     model biases: popularity shrunk to a ridge prior on model side features
``_net``, ``_training``       the torch module, its loss, and the training loop (fit and warm-start update)
``_kernel``                   the cold-task kernel: a task's vector from its side features
``_calibration``              which kernel settings to trust, by leave-one-task-out on the training tasks
``_fold_in``                  the few-shot fold-in: a task's vector from a few revealed results
``_confidence``               how well a row is known (results and side-feature nearness)
``_geometry``                 what queries derive from the factors (task mean and covariance, model spreads)
``_held_out``                  each training task predicted from the others: what intervals are learnt from
``_uncertainty``              values in the task's units, conformal intervals, the ranking's confidence
``_prediction``               ``predict_task``: a new task's expected values, intervals and confidence
``_budget``, ``_sources``     budgeted selection (``next``) and the same-dataset bet
``_affinity``                 the pairwise term: model-task affinities (domain, label set, same dataset), fitted
                              on cold held-out training tasks
``_persistence``              save and load (JSON + safetensors, no pickle)
============================  =====================================================================================
"""
from fennec.space._affinity import PairTerm
from fennec.space._estimator import TransferSpace
from fennec.space._kernel import (
    PRIORS,
    WIDTHS,
    KernelSetting,
    TaskKernel,
    block_distances,
    candidate_widths,
    median_spacing,
    views_of,
)
from fennec.space._prediction import LEVELS, TaskPrediction
from fennec.space._sources import source_key

__all__ = ["TransferSpace", "TaskPrediction", "LEVELS", "PairTerm", "TaskKernel", "KernelSetting", "WIDTHS", "PRIORS",
           "block_distances", "candidate_widths", "median_spacing", "views_of", "source_key"]
