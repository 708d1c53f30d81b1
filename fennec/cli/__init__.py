"""The ``fennec`` command line: ``noun verb`` groups, each a thin layer over the library.

Each group lives in its own module and is listed in ``_GROUPS``; a module exposes one ``click`` command or group
named ``command``. Errors the library raises on purpose (:class:`fennec.errors.FennecError` and friends) are printed
as one line plus a hint, and exit with status 1, by the project's one wrapper (:func:`archi2vec.run_click`); the
traceback is shown only with ``FENNEC_DEBUG=1``.
"""
from __future__ import annotations

import importlib
import sys

import click

from archi2vec import run_click as _run_click
from fennec import config
from fennec.cli._common import engine_options

__all__ = ["cli", "engine_options", "main", "run_click"]

# module name -> command name; modules are imported lazily so `fennec --help` stays fast.
_GROUPS: dict[str, str] = {
    "benchmark": "benchmark",
    "demo": "demo",
    "init": "init",
    "history": "history",
    "train": "train",
    "models": "models",
    "recommend": "recommend",
    "next": "next",
    "embed": "embed",
    "score": "score",
    "serve": "serve",
}


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used (torch and friends load slowly)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_GROUPS.values())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module, command in _GROUPS.items():
            if command == name:
                return importlib.import_module(f"fennec.cli.{module}").command
        return None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fennec")
def cli() -> None:
    """Fennec: which pre-trained models to fine-tune for a new task, from a learned transfer space.

    \b
    Examples (one per job; every command has --help and --json):
      fennec demo                                  # the whole loop offline, on the built-in mini-zoo
      fennec init ws --from sfda11                 # a workspace seeded from a released benchmark
      fennec history add results.csv -w ws         # record fine-tuning results (model,task,value)
      fennec train --incremental -w ws             # (re)fit the transfer space
      fennec recommend ./my_task -w ws --explain   # rank the zoo for a folder of images
      fennec next ./my_task -w ws --tried res.csv  # which model to fine-tune next, given what was tried
      fennec models add timm:resnet50 -w ws        # a new model enters by its architecture
      fennec score ./my_task --metric sfda         # cold-start metric on models with local weights
      fennec embed ./my_task --proxy labels        # a task's proxy vector
      fennec serve -w ws                           # the team service: HTTP API + web page
      fennec benchmark run --history shift --protocol cold-task --method popularity
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fennec`` script; returns the exit status."""
    return run_click(cli, argv, prog_name="fennec")


def run_click(command: click.Command, argv: list[str] | None, prog_name: str) -> int:
    """Run a click command of the project's fennec-facing CLIs (``fennec``, ``python -m benchmark``...): errors
    raised on purpose (fennec's and archi2vec's, one base) print as one line plus a hint; ``FENNEC_DEBUG=1`` shows
    the traceback. Returns the exit status."""
    return _run_click(command, argv, prog_name, debug=config.debug, debug_variable="FENNEC_DEBUG")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
