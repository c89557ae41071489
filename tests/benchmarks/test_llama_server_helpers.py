"""The real-server test helpers import only what each function needs (issue: httpx at module level)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_llama_server_helpers_import_without_httpx():
    code = (
        "import sys; sys.modules['httpx'] = None\n"  # as if httpx were not installed
        "import tests.benchmarks.llama_server as m\n"
        "assert callable(m.write_tiny_model) and m.free_port() > 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
