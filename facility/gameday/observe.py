"""Read what monitoring recorded on the day: CSV, ``lpuplan load`` JSONL, or a Prometheus server.

Every loader returns one :class:`~facility.gameday.verify.Observed` per pool,
on the prediction's timeline (seconds from t0, in the fleet's own seconds).

- **per-request CSV**: columns ``pool`` (or ``shape``/``bucket``),
  ``arrival_s``, ``e2el_s`` (or ``end_s``), optional ``ttft_s``, and
  ``status`` (``ok``/``shed``/``error``, or an HTTP code: 200 ok, 429 shed,
  anything else an error). Times are seconds from t0 unless ``t0`` is given
  (then they are on the same clock as ``t0``).
- **per-interval CSV**: columns ``pool``, ``t_start_s`` (from t0) and any of
  ``e2el_p99_s``, ``ttft_p99_s``, ``queue_depth``, ``shed_rate``,
  ``error_rate``, ``goodput_rps``, ``arrival_rps``, ``replicas_up``. Phase
  figures come from the intervals (means weighted by arrivals for rates;
  a latency column in s, ``e2el_p99_s``, or in ms, ``e2el_p99_ms``); a
  phase p99 cannot be rebuilt from interval p99s, so the largest interval p99
  is checked against its predicted band instead.
- **``lpuplan load`` JSONL**: a ``{"kind": "run", "time_scale": ...}`` line,
  then one ``{"kind": "request", "shape", "sent_s", "first_token_s",
  "end_s", "status"}`` line per request, in wall seconds from the run's
  origin; ``t0`` on that clock. Wall seconds times ``time_scale`` are the
  emulated fleet's seconds.
- **Prometheus** (:func:`observed_from_prometheus`): the HTTP API's
  ``query_range`` for the per-interval series and ``query`` at each phase's end
  (window = the phase) for the phase figures, both with the metric mapping's
  PromQL; quantile figures carry their histogram's bucket edges.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.keys import MS_PER_S

from facility.gameday.metrics import MetricMap
from facility.gameday.model import PHASES, SIGNALS
from facility.gameday.units import output_name
from facility.gameday.verify import ERROR, OK, SHED, Observed, observed_from_requests

__all__ = ["load_observations", "observed_from_prometheus", "status_outcome"]

_POOL_COLUMNS = ("pool", "shape", "bucket")


def status_outcome(status: str | int | None) -> int:
    """``ok``/``shed``/``error`` or an HTTP code (200 ok, 429 shed, else error) as an outcome code."""
    text = str(status).strip().lower() if status is not None else ""
    if text in ("ok", "200", "completed"):
        return OK
    if text in ("shed", "429"):
        return SHED
    return ERROR


def _f(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    return float(value)


def _pool_of(row: Mapping[str, Any], where: str) -> str:
    for key in _POOL_COLUMNS:
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise InvalidInput(where, dict(row), f"needs a pool column ({', '.join(_POOL_COLUMNS)})")


def _from_request_rows(rows: list[dict[str, Any]], document: Mapping[str, Any], *, t0: float, scale: float,
                       source: str) -> dict[str, Observed]:
    by_pool: dict[str, list[tuple[float, float, float, int]]] = {}
    for i, row in enumerate(rows):
        where = f"{source}: row {i + 1}"
        try:
            arrival = _f(row.get("arrival_s", row.get("sent_s")))
            end = _f(row.get("end_s"))
            if math.isnan(end) and row.get("e2el_s") not in (None, ""):
                end = arrival + _f(row["e2el_s"])
            first = _f(row.get("first_token_s"))
            ttft = _f(row.get("ttft_s")) if row.get("ttft_s") not in (None, "") else first - arrival
        except (TypeError, ValueError):
            raise InvalidInput(where, dict(row), "times must be numbers of seconds") from None
        if math.isnan(arrival):
            raise InvalidInput(where, dict(row), "needs arrival_s (or sent_s)")
        outcome = status_outcome(row.get("status", "ok"))
        if math.isnan(end):
            end = arrival  # no answer at all: an error when it was sent
            outcome = ERROR if outcome == OK else outcome
        by_pool.setdefault(_pool_of(row, where), []).append(
            ((arrival - t0) * scale, (end - t0) * scale, ttft * scale, outcome))
    if not by_pool:
        raise InvalidInput(source, "", "holds no request")
    out = {}
    for pool, items in by_pool.items():
        a = np.array(items, float)
        out[pool] = observed_from_requests(pool, a[:, 0], a[:, 1], a[:, 2], a[:, 3].astype(int), document, source=source)
    return out


def _from_interval_rows(rows: list[dict[str, Any]], document: Mapping[str, Any], source: str) -> dict[str, Observed]:
    interval = float(document["settings"]["interval_s"])
    phases = {k: tuple(v) for k, v in document["phases"].items()}
    by_pool: dict[str, list[dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        by_pool.setdefault(_pool_of(row, f"{source}: row {i + 1}"), []).append(row)
    out = {}
    for pool, items in by_pool.items():
        try:
            t = np.array([float(r["t_start_s"]) for r in items])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(source, pool, "per-interval rows need t_start_s (seconds from t0)") from None
        order = np.argsort(t)
        t = t[order]
        series = {}
        for name in (*SIGNALS, "replicas_up"):
            ms = output_name(name)  # a latency column may come in ms, named as prediction.json names it
            if name in items[0]:
                series[name] = np.array([_f(items[j].get(name)) for j in order])
            elif ms != name and ms in items[0]:
                series[name] = np.array([_f(items[j].get(ms)) for j in order]) / MS_PER_S
        figs: dict[str, dict[str, float]] = {}
        for ph in PHASES:
            a, b = phases[ph]
            inside = (t >= a - 1e-9) & (t + interval <= b + 1e-9)
            f: dict[str, float] = {}
            if inside.any():
                arr = series.get("arrival_rps")
                weights = arr[inside] if arr is not None and np.nansum(arr[inside]) > 0 else np.ones(int(inside.sum()))
                for name, fig in (("queue_depth", "queue_depth_mean"), ("goodput_rps", "goodput_rps")):
                    if name in series:
                        f[fig] = float(np.nanmean(series[name][inside]))
                for name in ("shed_rate", "error_rate"):
                    if name in series:
                        f[name] = float(np.nansum(series[name][inside] * weights) / np.sum(weights))
                if "e2el_p99_s" in series and np.isfinite(series["e2el_p99_s"][inside]).any():
                    f["peak_e2el_p99_s"] = float(np.nanmax(series["e2el_p99_s"][inside]))
            figs[ph] = f
        out[pool] = Observed(pool, interval, t, series, figs, {}, source)
    return out


def load_observations(path: str | Path, document: Mapping[str, Any], *, t0: float | None = None,
                      time_scale: float | None = None) -> dict[str, Observed]:
    """Observations from a CSV (per request or per interval) or an ``lpuplan load`` JSONL file (module notes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("--observed", str(path), f"cannot read it ({exc})") from None
    if time_scale is not None and not (time_scale > 0 and math.isfinite(time_scale)):
        raise InvalidInput("--time-scale", time_scale, "give emulated seconds per wall second > 0")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        rows, scale = [], time_scale
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise InvalidInput("--observed", f"{path}:{n}", "not JSON lines: one JSON object per line") from None
            if item.get("kind") == "run":
                if scale is None:
                    scale = float(item.get("time_scale") or 1.0)
            elif item.get("kind", "request") == "request":
                rows.append(item)
        if t0 is None:
            raise InvalidInput("--t0", None, "give the failure's time on the load run's clock (wall seconds from its origin)")
        return _from_request_rows(rows, document, t0=t0, scale=scale or 1.0, source=str(path))
    reader = csv.DictReader(text.splitlines())
    rows = list(reader)
    fields = set(reader.fieldnames or ())
    if "t_start_s" in fields:
        return _from_interval_rows(rows, document, str(path))
    if fields & {"arrival_s", "sent_s"}:
        return _from_request_rows(rows, document, t0=t0 or 0.0, scale=time_scale or 1.0, source=str(path))
    raise InvalidInput("--observed", str(path),
                       "not a known format: a CSV with arrival_s,e2el_s,status,pool (per request) or t_start_s,pool,..."
                       " (per interval), or lpuplan load's JSONL")


# --- Prometheus ------------------------------------------------------------------------------
def _get(client: Any, url: str, params: Mapping[str, Any]) -> Any:
    import httpx

    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise InvalidInput("--prometheus", url, f"cannot query it ({exc})") from None
    try:
        body = response.json()
    except ValueError:
        raise InvalidInput("--prometheus", url, f"answered {response.status_code} without JSON") from None
    if body.get("status") != "success":
        raise InvalidInput("--prometheus", url, f"query failed: {body.get('error', body)} (params {dict(params)})")
    return body["data"]


def _scalar(data: Any) -> float:
    result = data.get("result") or []
    if not result:
        return math.nan
    value = float(result[0]["value"][1])
    return value


def observed_from_prometheus(url: str, document: Mapping[str, Any], metrics: MetricMap, *, t0: float,
                             pools: list[str], time_scale: float = 1.0, timeout_s: float = 10.0) -> dict[str, Observed]:
    """Per-interval series and phase figures per pool from a Prometheus server (module notes).

    ``t0`` is the failure's Unix time; the window runs from the before phase
    to the end of the recovery phase. With ``time_scale`` (a time-scaled
    emulator), wall durations are the fleet's divided by it, and rates are
    divided by it to read per emulated second.
    """
    import httpx

    settings = document["settings"]
    phases = {k: tuple(v) for k, v in document["phases"].items()}
    interval = float(settings["interval_s"])
    start_rel, end_rel = phases["before"][0], phases["recovery"][1]
    base = url.rstrip("/")
    out = {}
    with httpx.Client(timeout=timeout_s) as client:
        for pool in pools:
            slo = next((p["pool"]["degraded_slo_s"] for p in document["pool_predictions"].values()
                        if p["pool"]["name"] == pool), None)
            count = int(math.ceil((end_rel - start_rel) / interval - 1e-9))
            t = start_rel + interval * np.arange(count)
            series: dict[str, np.ndarray] = {}
            for signal in (*SIGNALS, "replicas_up"):
                if not metrics.has(signal):
                    continue
                query = metrics.query(signal, pool=pool, window_s=interval / time_scale, slo_s=slo)
                # each point is the interval that ENDS at it: evaluate at the interval's end
                data = _get(client, f"{base}/api/v1/query_range", {
                    "query": query, "start": t0 + (start_rel + interval) / time_scale,
                    "end": t0 + (start_rel + interval * count) / time_scale, "step": interval / time_scale})
                values = np.full(count, np.nan)
                for item in (data.get("result") or [])[:1]:
                    for stamp, text in item["values"]:
                        k = int(round(((float(stamp) - t0) * time_scale - start_rel) / interval)) - 1
                        if 0 <= k < count:
                            values[k] = float(text)
                if signal.endswith("_rps"):
                    values = values / time_scale
                series[signal] = values
            figs: dict[str, dict[str, float]] = {}
            for ph in PHASES:
                a, b = phases[ph]
                if b <= a:
                    continue
                at = t0 + b / time_scale
                window = (b - a) / time_scale
                f: dict[str, float] = {}
                for signal, fig in (("e2el_p99_s", "e2el_p99_s"), ("ttft_p99_s", "ttft_p99_s"),
                                    ("queue_depth", "queue_depth_mean"), ("shed_rate", "shed_rate"),
                                    ("error_rate", "error_rate"), ("goodput_rps", "goodput_rps")):
                    if metrics.has(signal):
                        query = metrics.query(signal, pool=pool, window_s=window, slo_s=slo)
                        value = _scalar(_get(client, f"{base}/api/v1/query", {"query": query, "time": at}))
                        f[fig] = value / time_scale if signal.endswith("_rps") else value
                inside = (t >= a - 1e-9) & (t + interval <= b + 1e-9)
                peak = series.get("e2el_p99_s")
                if peak is not None and np.isfinite(peak[inside]).any():
                    f["peak_e2el_p99_s"] = float(np.nanmax(peak[inside]))
                figs[ph] = f
            edges: dict[str, tuple[float, ...]] = {}
            for fig, histogram in metrics.histograms.items():
                data = _get(client, f"{base}/api/v1/label/le/values",
                            {"match[]": f'{histogram}_bucket{{{metrics.pool_label}="{pool}"}}'})
                les = sorted(float(v) for v in data if v not in ("+Inf",))
                if les:
                    edges[fig] = tuple(les)
                    if fig == "e2el_p99_s":
                        edges["peak_e2el_p99_s"] = tuple(les)
            out[pool] = Observed(pool, interval, t, series, figs, edges, f"prometheus {base}")
    return out
