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
