"""``python -m benchmarks.emulator``: read a config as JSON on stdin, serve, print the URL.

Used by :class:`benchmarks.emulator.process.EmulatorProcess`; users run
``lpuplan emulate FILE`` instead. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from benchmarks.emulator.process import config_from_json
from benchmarks.emulator.server import Emulator


def main() -> None:
    config = config_from_json(json.loads(sys.stdin.read()))
    emulator = Emulator(config).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(emulator.url, flush=True)
    stop.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
