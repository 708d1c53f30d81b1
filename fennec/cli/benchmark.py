"""``fennec benchmark``: hands over to the ``benchmark`` package (``python -m benchmark``)."""
from benchmark.cli import cli as command

__all__ = ["command"]
