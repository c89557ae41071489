"""Benchmark: `lpuplan size` on the embedded example as a whole process.

Run: python tests/bench/bench_size.py [repeats]
Target (issue 2): under 1 s per run on the 2-core dev machine. The baseline in
the same run is `lpuplan --version` (interpreter start-up and imports). Also
the example at ``lambda_peak = 1e6`` (issue 8: 49 s before the bracketed
least-N search; it must answer in seconds).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(cmd: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "lpuplan.cli", "init", tmp], check=True, stdout=subprocess.DEVNULL)
        project = str(Path(tmp) / "lpuplan.toml")
        base = _time([sys.executable, "-c", "import lpuplan.cli"], repeats)
        size = _time([sys.executable, "-m", "lpuplan.cli", "size", project, "--json"], repeats)
        big = Path(tmp) / "big.toml"
        big.write_text(Path(project).read_text().replace("lambda_peak = 40.0 ", "lambda_peak = 1e6 "))
        large = _time([sys.executable, "-m", "lpuplan.cli", "size", str(big), "--json"], max(repeats // 2, 1))
    print(f"{'command':<40} {'median s':>9} {'min s':>9}")
    print(f"{'import lpuplan.cli (baseline)':<40} {statistics.median(base):9.3f} {min(base):9.3f}")
    print(f"{'lpuplan size example --json':<40} {statistics.median(size):9.3f} {min(size):9.3f}")
    print(f"{'lpuplan size (lambda_peak = 1e6) --json':<40} {statistics.median(large):9.3f} {min(large):9.3f}")
    print(f"size / baseline: {statistics.median(size) / statistics.median(base):.2f}x; target < 1 s: "
          f"{'met' if statistics.median(size) < 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
