"""Benchmark: what writing sizing.xlsx adds to ``lpuplan plan`` (issue 14: < 0.15 s CPU on the example).

Run:  python tests/bench/bench_workbook.py [--repeats 15] [--example default|showcase] [--check]

The plan is built once, untimed (``build_plan`` as ``lpuplan plan`` runs it,
simulation included). Then, interleaved so both see the same machine load:

- **workbook**: ``sizing_workbook(plan)`` (every sheet, formulas, formats, the zip);
- **baseline**: the outputs ``plan`` wrote before the workbook (plan.json text and
  both Markdown worksheets).

The table gives the median CPU time (``time.process_time``) of each and their
ratio. ``cold`` is the first call in a fresh process, importing XlsxWriter and
``lpuplan.workbook`` (in ``lpuplan plan`` the rack-plan workbook imports
XlsxWriter too, so the cold figure is an upper bound of what the plan pays).
``--check`` exits 1 when the warm median exceeds 0.15 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

BUDGET_S = 0.15

_COLD = """
import time, tomllib, sys
from pathlib import Path
from lpuplan.project import example_project_text, parse_project
from lpuplan.plan import build_plan
plan = build_plan(parse_project(tomllib.loads(example_project_text(sys.argv[1])), Path.cwd()), simulate=False)
t = time.process_time()
from lpuplan.workbook import sizing_workbook
sizing_workbook(plan, "example")
print(time.process_time() - t)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--example", default="default")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    from lpuplan.output import dumps_json
    from lpuplan.plan import build_plan
    from lpuplan.project import example_project_text, parse_project
    from lpuplan.render_markdown import render_capacity_worksheet, render_inputs_worksheet
    from lpuplan.workbook import sizing_workbook

    plan = build_plan(parse_project(tomllib.loads(example_project_text(args.example)), Path.cwd()), simulate=True)
    sizing_workbook(plan, "example")  # warm: imports and first-use caches

    def baseline() -> None:
        dumps_json(plan.to_dict())
        render_inputs_worksheet(plan, "example")
        render_capacity_worksheet(plan)

    workbook_s, baseline_s = [], []
    for _ in range(args.repeats):
        t = time.process_time()
        size = len(sizing_workbook(plan, "example"))
        workbook_s.append(time.process_time() - t)
        t = time.process_time()
        baseline()
        baseline_s.append(time.process_time() - t)
    cold = float(subprocess.run([sys.executable, "-c", _COLD, args.example], capture_output=True, text=True,
                                check=True).stdout.strip())
    w, b = statistics.median(workbook_s), statistics.median(baseline_s)
    load = os.getloadavg()[0]
    print(f"example {args.example}: sizing.xlsx {size:,} bytes; load average {load:.2f}")
    print(f"{'':<28}{'median CPU s':>14}")
    print(f"{'workbook (warm)':<28}{w:>14.4f}")
    print(f"{'baseline (json + md)':<28}{b:>14.4f}")
    print(f"{'workbook / baseline':<28}{w / b:>14.2f}")
    print(f"{'workbook (cold, 1 call)':<28}{cold:>14.4f}")
    if args.check and w > BUDGET_S:
        print(f"FAIL: warm median {w:.3f} s > {BUDGET_S} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
