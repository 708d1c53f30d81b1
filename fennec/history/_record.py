"""One stored fine-tuning result, as iterating over a :class:`~fennec.history.TransferHistory` yields it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["TransferRecord"]


@dataclass(frozen=True)
class TransferRecord:
    """One fine-tuning result, as stored.

    Parameters
    ----------
    model : str
        Model id (timm style ``architecture.tag`` where one exists).
    task : str
        Task (dataset) id.
    value : float
        The fine-tuned score; higher is better.
    metric : str or None
        Name of the measure (``top1``, ``map``...), if recorded.
    source : str or None
        Where the record came from (a paper, a benchmark, a run log), if recorded.
    params : dict
        Hyper-parameters and other extra columns (``lr``, ``seed``, ``split``...).
    timestamp : datetime
        When the run was recorded (UTC).
    """

    model: str
    task: str
    value: float
    metric: str | None = None
    source: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
