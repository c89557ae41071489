"""Conventions every command keeps: an example in --help, enumerated choices, errors printed as typed."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from lpuplan.cli import app

runner = CliRunner()


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if getattr(command, "commands", None):  # a group (typer vendors its own click classes)
            yield from _commands(command, prefix + (name,))
        else:
            yield prefix + (name,)


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_listed():
    assert ("plan",) in COMMANDS and ("gameday", "verify") in COMMANDS and len(COMMANDS) >= 20


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_shows_an_example(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Example: lpuplan " + command[0] in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("command, option, shown", [
    (("simulate",), "--routing", "<central|random|round_robin|jsq|power_of_two|least_work_left>"),
    (("simulate",), "--pool", "<per-bucket|shared>"),
    (("init",), "--example", "<default|showcase>"),
    (("load",), "--client", "<auto|h1|aiohttp|httpx>"),
    (("gameday", "predict"), "--unnoticed", "<lost|timeout|retry>"),
])
def test_choices_are_enumerated_and_enforced(command, option, shown, tmp_path):
    help_text = runner.invoke(app, [*command, "--help"], terminal_width=200).output
    assert shown in help_text
    result = runner.invoke(app, [*command, str(tmp_path), option, "nonsense"])
    assert result.exit_code == 2 and option in result.output


def test_an_error_prints_as_typed_not_as_markup():
    # the fix names a TOML array of tables: rich markup once ate "[[bucket]]", printing "TOML of [] tables"
    result = runner.invoke(app, ["bench", "--backend", "mock", "--output", "x.json"])
    assert result.exit_code == 2
    assert "TOML of [[bucket]] tables" in " ".join(result.output.split())
