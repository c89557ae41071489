"""What a person sees: the verdict first and last, 80 columns without a cut number, plain when piped."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from lpuplan.render_terminal import layout_table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _project(tmp_path: Path, **replace: str) -> Path:
    subprocess.run([sys.executable, "-m", "lpuplan.cli", "init", str(tmp_path)], check=True, capture_output=True)
    path = tmp_path / "lpuplan.toml"
    text = path.read_text()
    for old, new in replace.items():
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


def _in_pty(args: list[str], columns: int = 80) -> tuple[int, str]:
    """Run ``lpuplan ARGS`` in a real pseudo-terminal of ``columns`` x 24."""
    env = dict(os.environ, COLUMNS=str(columns), LINES="24", TERM="xterm-256color")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lpuplan.cli", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")


def test_size_in_an_80_column_terminal_fits_and_leads_with_the_verdict(tmp_path):
    code, text = _in_pty(["size", str(_project(tmp_path))])
    lines = [l for l in text.splitlines() if l.strip()]
    assert code == 0, text
    assert lines[0].startswith("PASS: 20 replicas (11,520 chips)"), lines[0]
    assert all(len(l) <= 80 for l in lines), [l for l in lines if len(l) > 80]
    assert "…" not in text
    # every bucket's p99 and its SLO are printed whole
    for bucket in ("p512", "p2048", "p4096", "p8192"):
        assert re.search(rf"^{bucket}\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+6,000$", text, re.M), bucket


def test_plan_piped_is_plain_and_ends_with_the_verdict(tmp_path):
    out = subprocess.run([sys.executable, "-m", "lpuplan.cli", "plan", str(_project(tmp_path)), "--no-simulate",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "\x1b[" not in out.stdout
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    assert all(len(l) <= 80 for l in lines), [l for l in lines if len(l) > 80]
    verdicts = [i for i, l in enumerate(lines) if l.startswith("PASS: ")]
    assert verdicts[0] == 0 and verdicts[-1] >= len(lines) - 4  # first and on the last screen
    assert "a rack down" in lines[0] + lines[1]


def test_infeasible_bucket_is_a_fail_never_an_answer(tmp_path):
    path = _project(tmp_path, **{"max_output_tokens = 1024": "max_output_tokens = 2048"})
    out = subprocess.run([sys.executable, "-m", "lpuplan.cli", "size", str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 3
    first = out.stdout.splitlines()[0]
    assert first.startswith("FAIL: cannot size p512")
    assert "FAIL" in next(l for l in out.stdout.splitlines() if l.startswith("p512 "))
    data = json.loads(subprocess.run([sys.executable, "-m", "lpuplan.cli", "size", str(path), "--json"],
                                     capture_output=True, text=True, timeout=300).stdout)
    verdict = data["verdict"]
    feasible = [b for b in data["dedicated"]["buckets"] if b["feasible"]]
    assert verdict["replicas"] == sum(b["replicas"] for b in feasible)
    assert verdict["infeasible"][0]["bucket"] == "p512"


def test_formats_csv_and_md(tmp_path):
    path = _project(tmp_path)
    out = subprocess.run([sys.executable, "-m", "lpuplan.cli", "size", str(path), "--format", "csv"],
                         capture_output=True, text=True, timeout=300)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["bucket"] for r in rows] == ["p512", "p2048", "p4096", "p8192"]
    assert float(rows[1]["e2el_p99_ms"]) <= float(rows[1]["e2el_slo_ms"]) == 6000.0
    md = subprocess.run([sys.executable, "-m", "lpuplan.cli", "size", str(path), "--format", "md"],
                        capture_output=True, text=True, timeout=300).stdout
    assert md.startswith("# Capacity model")
    bad = subprocess.run([sys.executable, "-m", "lpuplan.cli", "size", str(path), "--format", "xml"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--format" in bad.stderr


def test_layout_stacks_rather_than_cut():
    header = ["bucket", "a long header", "another long header"]
    rows = [["p512", "1,234,567", "8,901,234"]]
    wide = layout_table(header, rows, 80)
    assert len(wide) == 2 and wide[1].split() == ["p512", "1,234,567", "8,901,234"]
    narrow = layout_table(header, rows, 40)  # 46 columns needed side by side
    assert narrow[0] == "bucket p512" and all(len(l) <= 40 for l in narrow)
    assert any("8,901,234" in l for l in narrow)
