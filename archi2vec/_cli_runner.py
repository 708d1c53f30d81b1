"""The one command-line wrapper of the project: errors raised on purpose become one line plus a hint.

``python -m archi2vec``, ``fennec`` and ``python -m benchmark`` all run their click commands through
:func:`run_click`, so a user mistake reads the same everywhere: ``Error: <what is wrong>``, ``  hint: <how to fix
it>``, and where to switch the traceback on; exit status 1 (130 when aborted, click's own status for usage errors).
"""
from __future__ import annotations

from collections.abc import Callable

import click

from archi2vec._errors import HintedError

__all__ = ["run_click"]

#: Errors shown as one line: the project's own, and the file-system errors a mistyped path gives.
_SHOWN = (HintedError, FileNotFoundError, PermissionError, KeyboardInterrupt)


def run_click(command: click.Command, argv: list[str] | None, prog_name: str, *, debug: Callable[[], bool],
              debug_variable: str) -> int:
    """Run a click command and return its exit status.

    Parameters
    ----------
    command : click.Command
        The command or group to run.
    argv : list of str, optional
        Its arguments (default: ``sys.argv[1:]``).
    prog_name : str
        The name usage lines show, e.g. ``"fennec"``.
    debug : callable
        Whether to re-raise instead of printing (reads the environment variable, in the package's config module).
    debug_variable : str
        The environment variable that switches ``debug`` on, named in the message.
    """
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except _SHOWN as exc:
        if debug():
            raise
        _print_error(exc, debug_variable)
        return 1
    return 0


def _print_error(exc: BaseException, debug_variable: str) -> None:
    hint = getattr(exc, "hint", None)
    message = str(exc).split("\n  hint:")[0] if hint else str(exc)
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    click.echo(f"  (set {debug_variable}=1 to see the traceback)", err=True)
