"""Game-day documents at the edge: latencies out in ms (dimensioning.keys), and back in seconds.

Inside :mod:`facility.gameday` every time is SI seconds (DESIGN.md, "Units
and names") and signals are named ``e2el_p99_s``. What leaves as JSON
(``prediction.json``, ``verify.json``, ``rehearsal.json``, ``--json``) names
and scales every latency the way :mod:`dimensioning.keys` does
(``e2el_p99_ms``, ``e2el_slo_degraded_ms``, ``margin_ms``); durations and
time stamps (``t_start_s``, ``from_s``, ``for_s``, ``recovered_after_s``,
the phases) stay in seconds. Besides keys, three things carry a unit:

- a figure named by value (``{"signal": "e2el_p99_s", "threshold": ...}``,
  ``{"figure": ...}``) or marked ``"unit": "s"``: the name is rewritten and
  its numbers (:data:`_FIGURE_FIELDS`) scaled;
- the published PromQL of a latency signal (``metrics.signals``) is
  wrapped in ``1e3 * (...)``: Prometheus keeps its base unit (seconds,
  ``*_seconds`` metric names); the signal as published is in ms;
- signal descriptions say ``(ms)``.

:func:`from_output` is the exact inverse, used where ``gameday verify``
reads a ``prediction.json`` back (values round-trip to within one ulp).
"""

from __future__ import annotations

from typing import Any

from dimensioning.keys import DURATION_KEYS, MS_PER_S, output_key

__all__ = ["from_output", "latency_name", "output_name", "to_output"]

# durations of the game day's events (seconds, like keys.DURATION_KEYS)
_KEEP = frozenset({"for_s", "recovered_after_s", "from_s", "to_s", "start_s", "end_s"}) | DURATION_KEYS
# numbers of a figure named by value (``signal``/``figure``) or marked ``unit: "s"``
_FIGURE_FIELDS = ("threshold", "predicted", "margin", "worst", "observed", "band", "predicted_mean", "resolution",
                  "value", "limit", "ci95")
_PROMQL = ("1e3 * (", ")")

# every internal latency name a game-day document holds (a test walks real documents against this list)
_INTERNAL = (
    "e2el_p99_s", "ttft_p99_s", "peak_e2el_p99_s", "slo_s", "degraded_slo_s", "service_time_s", "ttft_offset_s",
    "slo_margin_s", "margin_s", "worst_p99_s", "send_lag_p99_s",
)
# the steady states of a pool prediction (``normal``, ``degraded``: facility.gameday.steady) say ``latency``
# where the rest says ``e2el``; both leave as ``e2el``, so they read back by where they stand
_STEADY = ("latency_p99_s", "capped_latency_p99_s", "slo_s", "slo_margin_s", "ttft_p99_s")
_STEADY_PARENTS = frozenset({"normal", "degraded"})


def output_name(name: str) -> str:
    """The output name of an internal key or signal: ``e2el_p99_s`` -> ``e2el_p99_ms``; durations unchanged."""
    return name if name in _KEEP else output_key(name)[0]


def latency_name(name: str) -> bool:
    """Whether an internal key or signal name holds a latency (leaves in ms)."""
    return name not in _KEEP and output_key(name)[1] != 1.0


_INVERSE = {output_name(n): n for n in _INTERNAL}
_INVERSE_STEADY = {output_name(n): n for n in _STEADY}
assert len(_INVERSE) == len(_INTERNAL) and len(_INVERSE_STEADY) == len(_STEADY), "two names share an output name"


def _scale(obj: Any, factor: float) -> Any:
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (int, float)):
        return obj * factor
    if isinstance(obj, dict):
        return {k: _scale(v, factor) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_scale(v, factor) for v in obj]
    return obj


def _walk(obj: Any, *, out: bool, path: tuple[str, ...] = ()) -> Any:
    """One direction of the conversion (``out``: internal -> output)."""
    if isinstance(obj, (list, tuple)):
        return [_walk(v, out=out, path=path) for v in obj]
    if not isinstance(obj, dict):
        return obj
    factor = MS_PER_S if out else 1.0 / MS_PER_S
    steady = len(path) >= 2 and path[-1] in _STEADY_PARENTS and path[-2] != "phases"
    inverse = _INVERSE_STEADY if steady else _INVERSE
    rename = output_name if out else (lambda n: inverse.get(n, n))
    named = next((obj[k] for k in ("signal", "figure") if isinstance(obj.get(k), str)), None)
    internal_named = named if out or named is None else rename(named)
    scaled = (internal_named is not None and latency_name(internal_named)) or obj.get("unit") == ("s" if out else "ms")
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if scaled and key in _FIGURE_FIELDS:
            result[key] = _scale(value, factor)
            continue
        if scaled and key == "unit" and value in ("s", "ms"):
            result[key] = "ms" if out else "s"
            continue
        if key in ("signal", "figure") and isinstance(value, str):
            result[key] = rename(value)
            continue
        internal = key if out else inverse.get(key, key)
        if not out and (key.endswith("_ms") and key not in inverse or key.endswith("_s") and latency_name(key)):
            raise ValueError(f"unknown latency key {key!r}" if key.endswith("_ms") else f"a latency in seconds ({key!r})")
        if not latency_name(internal):
            result[key] = _walk(value, out=out, path=path + (key,))
            continue
        new = rename(key)
        if isinstance(value, str):  # a description, or published PromQL
            if path[-2:] == ("metrics", "signals"):
                head, tail = _PROMQL
                if out:
                    value = f"{head}{value}{tail}"
                elif value.startswith(head) and value.endswith(tail):
                    value = value[len(head):-len(tail)]
            elif path and path[-1] == "signals" or path and path[-1] == "phase_figures":
                value = value.replace("(s)", "(ms)") if out else value.replace("(ms)", "(s)")
            result[new] = value
        else:
            result[new] = _scale(_walk(value, out=out, path=path + (key,)), factor)
    return result


def to_output(document: Any) -> Any:
    """The document as it leaves: latencies in ms under dimensioning.keys names (module notes)."""
    return _walk(document, out=True)


def from_output(document: Any) -> Any:
    """A document as :func:`to_output` wrote it, back in internal names and seconds.

    Raises ValueError on a latency key this module does not know.
    """
    return _walk(document, out=False)
