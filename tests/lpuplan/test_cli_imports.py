"""The CLI loads only what a command needs (docs/performance.md).

`lpuplan --help` and `lpuplan validate` must not pay for scipy, numba,
matplotlib or openpyxl; each check runs a fresh interpreter and reads
``sys.modules`` after the command, so an eager import anywhere in the chain
fails it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy", "numba", "matplotlib", "openpyxl", "xlsxwriter", "networkx", "httpx", "click")  # click: typer vendors its own

_PROBE = """
import json, sys
from lpuplan.cli import app
from typer.testing import CliRunner
result = CliRunner().invoke(app, sys.argv[1:])
loaded = sorted({name.split('.')[0] for name in sys.modules})
print(json.dumps({"exit": result.exit_code, "loaded": loaded}))
"""


def _loaded_after(*args: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return report["exit"], set(report["loaded"])


def test_help_loads_no_heavy_package():
    code, loaded = _loaded_after("--help")
    assert code == 0
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "numpy" not in loaded and "pydantic" not in loaded


def test_validate_loads_no_heavy_package(tmp_path):
    from lpuplan.project import example_project_text

    project = tmp_path / "lpuplan.toml"
    project.write_text(example_project_text(), encoding="utf-8")
    code, loaded = _loaded_after("validate", str(project))
    assert code == 0
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("name", __import__("facility").__all__)
def test_every_facility_export_resolves(name):
    import facility

    assert getattr(facility, name) is not None


def _registered(area: str) -> set[str]:
    import importlib

    import typer
    import typer.main

    application = typer.Typer()
    application.callback()(lambda: None)
    importlib.import_module(area).register(application)
    return set(typer.main.get_command(application).commands)


def test_the_command_map_names_every_command_of_every_area_and_nothing_else():
    from lpuplan import cli

    mapped: dict[str, set[str]] = {}
    for command, area in cli._COMMAND_AREAS.items():
        mapped.setdefault(area, set()).add(command)
    assert set(mapped) == set(cli._AREAS)
    for area in cli._AREAS:
        assert _registered(area) == mapped[area], area


@pytest.mark.parametrize("arguments, expected", [
    (["size", "x.toml"], ("lpuplan.cli_dimensioning",)),
    (["import-worksheet", "--help"], ("lpuplan.cli_export",)),
    (["validate", "x.toml"], ()),
    (["init"], ()),
    (["--help"], None),
    ([], None),
    (["sise", "x.toml"], None),  # a typo: every area, so the error can suggest the command
    (["size", "--show-completion"], None),
])
def test_a_command_line_loads_the_area_of_its_command_only(arguments, expected):
    from lpuplan.cli import _AREAS, areas_for

    assert areas_for(arguments) == (_AREAS if expected is None else expected)


def test_the_console_script_runs_a_command_without_loading_other_areas(tmp_path):
    from lpuplan.project import example_project_text

    project = tmp_path / "lpuplan.toml"
    project.write_text(example_project_text(), encoding="utf-8")
    probe = ("import sys; sys.argv = ['lpuplan', 'validate', sys.argv[1]]\n"
             "from lpuplan.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "print([m for m in sys.modules if m.startswith('lpuplan.cli_')], code)")
    out = subprocess.run([sys.executable, "-c", probe, str(project)], capture_output=True, text=True, check=True)
    assert "valid (4 buckets)" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "['lpuplan.cli_support'] 0"
