"""Output vocabulary: one home for the names of latency keys, percentile labels and units.

Inside the packages every time is SI seconds (DESIGN.md, "Units and names").
At the edge (every ``to_dict``, ``--json``, CSV header and table heading) a
latency figure leaves in **milliseconds** under the names users already speak
(vLLM's and GuideLLM's benchmark vocabulary):

- metrics: ``ttft`` (time to first token), ``tpot`` (time per output token),
  ``itl`` (inter-token latency), ``e2el`` (end-to-end latency), and ``wait``
  (queueing delay, the part of e2el and TTFT that queueing owns);
- percentile keys ``p50``, ``p90``, ``p95``, ``p99``, ``p99_9`` (labels for
  people: ``p99.9``); a key reads ``<metric>_<stat>[_<state>]_ms``, e.g.
  ``e2el_p99_ms``, ``wait_p99_9_degraded_ms``; an SLO reads
  ``<metric>_slo[_degraded]_ms``;
- durations of events (a failover, a warm-up, a run's span, wall time) are not
  latencies: they stay in seconds with ``_s`` (:data:`DURATION_KEYS`).

:func:`to_output` rewrites a result's internal field names (``latency_p999_s``)
into this vocabulary (``e2el_p99_9_ms``) and scales the values; the renaming
table published in docs/plan-schema.md is :func:`output_key` applied to the
old keys. Changing a name here changes it in every output at once.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = [
    "MS_PER_S", "TTFT", "TPOT", "ITL", "E2EL", "WAIT", "METRICS", "PERCENTILES", "DURATION_KEYS",
    "percentile_key", "percentile_label", "quantile_key", "latency_key", "slo_key", "header", "to_ms",
    "output_key", "to_output", "with_kind",
]

MS_PER_S = 1e3

TTFT = "ttft"
TPOT = "tpot"
ITL = "itl"
E2EL = "e2el"
WAIT = "wait"
METRICS = (TTFT, TPOT, ITL, E2EL)

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)
"""The percentiles every latency distribution reports (in percent)."""


def percentile_key(q: float) -> str:
    """Key of the ``q``-th percentile (``q`` in percent): 99 -> ``p99``, 99.9 -> ``p99_9``."""
    text = f"{q:g}"
    if not 0 < q < 100 or "e" in text:
        raise ValueError(f"percentile {q!r} outside (0, 100)")
    return "p" + text.replace(".", "_")


def percentile_label(q: float) -> str:
    """Label for people: 99 -> ``p99``, 99.9 -> ``p99.9``."""
    return percentile_key(q).replace("_", ".")


def quantile_key(p: float) -> str:
    """Key of the probability-``p`` quantile: 0.999 -> ``p99_9``."""
    return percentile_key(round(p * 100, 6))


def latency_key(metric: str, stat: str | float, state: str = "") -> str:
    """``<metric>_<stat>[_<state>]_ms``; ``stat`` is ``mean``, ``max``... or a percentile in percent."""
    name = stat if isinstance(stat, str) else percentile_key(stat)
    return f"{metric}_{name}{'_' + state if state else ''}_ms"


def slo_key(metric: str, state: str = "") -> str:
    """The objective on ``metric``'s p99: ``e2el_slo_ms``, ``ttft_slo_degraded_ms``."""
    return f"{metric}_slo{'_' + state if state else ''}_ms"


def header(label: str, unit: str = "ms") -> str:
    """A column heading with its unit: ``header("p99")`` -> ``p99 (ms)``."""
    return f"{label} ({unit})" if unit else label


def to_ms(seconds: Any) -> Any:
    """Seconds -> ms for a number, a list/tuple of numbers, or None (kept); ``inf`` stays ``inf``."""
    if seconds is None or isinstance(seconds, bool):
        return seconds
    if isinstance(seconds, (list, tuple)):
        return [to_ms(v) for v in seconds]
    if isinstance(seconds, (int, float)):
        value = float(seconds)
        return value if math.isinf(value) else value * MS_PER_S
    return seconds


DURATION_KEYS = frozenset({
    # a run's or a scenario's time line (seconds; not latencies)
    "wall_s", "span_s", "t_start_s", "at_s", "interval_s", "before_s", "warmup_s", "duration_s",
    "failover_time_s", "timeout_s", "recover_at_s", "recovery_s", "restore_after_s", "abort_for_s",
    "worst_recovery_s", "recovery_time_s", "time_s", "elapsed_s",
})
"""Keys in seconds that :func:`to_output` keeps: durations of events, not latencies."""

# whole internal names whose output name is not the word-by-word rewrite
_RENAMED = {
    "slo_s": "e2el_slo_ms",
    "degraded_slo_s": "e2el_slo_degraded_ms",
    "slo_p99_s": "e2el_slo_ms",
    "worst_slo_s": "worst_e2el_slo_ms",
    "worst_p99_s": "worst_e2el_p99_ms",
    "token_s": "tpot_ms",  # a service's time per output token (1 / R_decode)
    "first_token_s": "ttft_ms",  # a service's time to first token (L_fixed + prefill + one decode step)
}
# word-by-word rewrites of internal names
_WORDS = {"latency": E2EL, "p999": "p99_9", "median": "p50"}


def output_key(name: str) -> tuple[str, float]:
    """The output key of an internal field name and the factor its value takes.

    >>> output_key("latency_p999_s")
    ('e2el_p99_9_ms', 1000.0)
    >>> output_key("wait_p99_s_ci95")
    ('wait_p99_ms_ci95', 1000.0)
    >>> output_key("failover_time_s")
    ('failover_time_s', 1.0)
    >>> output_key("requests_per_s")
    ('requests_per_s', 1.0)
    """
    base, sep, tail = name.partition("_s_ci")
    if sep:  # an interval of a figure in seconds: <name>_s_ci95
        new, factor = output_key(base + "_s")
        return (new + "_ci" + tail, factor) if factor != 1.0 else (name, 1.0)
    if name in DURATION_KEYS or not name.endswith("_s") or name.endswith("_per_s"):  # a rate is not a time
        return name, 1.0
    if name in _RENAMED:
        return _RENAMED[name], MS_PER_S
    words = [_WORDS.get(w, w) for w in name[:-2].split("_")]
    return "_".join(words) + "_ms", MS_PER_S


# containers whose keys are names (buckets, pools), never field names: their keys stay as they are
_NAME_KEYED = frozenset({"buckets", "final_replicas", "pools", "by_bucket", "replicas"})


def to_output(obj: Any, *, keep: Iterable[str] = ()) -> Any:
    """A JSON-ready copy of ``obj`` in the output vocabulary (ms latencies; see the module docstring).

    Dict keys are rewritten by :func:`output_key` and their values scaled; a
    ``{"value", "limit", "unit": "s"}`` figure (a check) is scaled and its unit
    becomes ``ms``. Subtrees under a key in ``keep`` are copied unchanged.
    """
    kept = frozenset(keep)
    return _convert(obj, kept, names=False)


def _convert(obj: Any, keep: frozenset[str], names: bool) -> Any:
    if isinstance(obj, dict):
        seconds_figure = obj.get("unit") == "s"
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if not isinstance(key, str) or names:
                out[key] = _convert(value, keep, names=False)
                continue
            if key in keep:
                out[key] = value
                continue
            if seconds_figure and key in ("value", "limit", "ci95"):
                out[key] = to_ms(value)
                continue
            if seconds_figure and key == "unit":
                out[key] = "ms"
                continue
            new, factor = output_key(key)
            converted = _convert(value, keep, names=key in _NAME_KEYED and isinstance(value, dict))
            out[new] = to_ms(converted) if factor != 1.0 else converted
        return out
    if isinstance(obj, (list, tuple)):
        return [_convert(v, keep, names=False) for v in obj]
    return obj


def with_kind(kind: str, note: str) -> str:
    """``"<kind>: <note>"``, once: a note that already starts with its kind is not prefixed again.

    >>> with_kind("approximation", "approximation: exponential shape")
    'approximation: exponential shape'
    >>> with_kind("exact", "M/D/c")
    'exact: M/D/c'
    """
    if not note:
        return kind
    return note if note == kind or note.startswith(kind + ":") else f"{kind}: {note}"
