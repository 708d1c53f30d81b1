"""Every ``fennec`` command answers --help with at least one example."""
from __future__ import annotations

import pytest

from fennec.cli import _GROUPS, main


@pytest.mark.parametrize("command", sorted(_GROUPS.values()))
def test_every_command_has_help_with_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"fennec {command}" in out and "Example" in out
