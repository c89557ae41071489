"""Importers: the seed tools' performance models into a ``lpuplan.profile/1`` profile.

Each profile carries a ``mapping`` object that says, field by field, how the
foreign figures became R_prefill, R_decode and L_fixed; its ``backend.name``
is ``import:<format>``. No foreign format reports a confidence interval of
the mean, so the intervals here are either the spread of single runs (where
the file gives a standard deviation: mean +/- 1.96 std, mapped through the
rate) or degenerate ``[value, value]`` (point estimates), and say so.

SimFaaSInfer ``fitted_profile.json`` (github.com/HaniehKashfii/SimFaaSInfer,
data/profiling/compute/<gpu>/<model>/): a list of rows ``{"type": "prefill",
"seq_len", "batch_size", "mean_ms", "std_ms", ...}`` and ``{"type": "decode",
"kv_cache", "new_tokens", "batch_size", "mean_ms", ...}``. The fit uses the
batch_size 1 rows (one request at a time, as our sweeps measure); decode rows
at larger batch sizes are carried through as ``fit.r_decode_at_concurrency``
(per-sequence tokens/s by batch size, at the same kv_cache), so a bucket can
size at its ``slots`` (``rates_at_concurrency``). Every number must be finite
and positive (NaN, Infinity, zero or negative times: exit 2 naming the row).

- prefill time ``t(P)``: the row at ``seq_len == P``, or linear
  interpolation between the neighbouring seq_lens; never extrapolated.
- ``L_fixed``: ``--l-fixed-ms`` when given, else the intercept of a
  least-squares line through ``t(seq_len)`` (the launch overhead every
  prefill pays); then ``R_prefill(P) = P / (t(P) - L_fixed)``.
- ``R_decode = 1 / t_step`` with ``t_step`` the mean decode-step time at
  ``kv_cache = decode_context`` (default: the largest measured, the slowest),
  averaged over new_tokens, interpolated between kv_cache rows.

BLIS beta/alpha coefficients (github.com/inference-sim/inference-sim,
docs/design/core-engine.md, "Latency Models"), microseconds:
``StepTime = beta0 + beta1 * cache_miss_tokens + beta2 * decode_tokens``,
``QueueingTime = alpha0 + alpha1 * input_length``, ``OutputTokenProcessingTime = alpha2``.
A file holds ``beta_coeffs`` (and ``alpha_coeffs``) at the top level, or a
``models`` list of entries with ``id``, ``GPU``, ``tensor_parallelism`` (BLIS's
coefficients.yaml / defaults.yaml), picked by ``model``, ``gpu``, ``tp``.
For one request alone (batch 1, no chunking):

- ``R_prefill(P) = P / ((alpha1 + beta1) * P + beta0)`` (the prefill step and
  the input-length part of the queueing time);
- ``R_decode = 1 / (beta0 + beta2 + alpha2)`` (one decode step and its output processing);
- ``L_fixed = alpha0 + alpha2`` (or ``--l-fixed-ms`` when the file has no alpha).

The betas themselves are carried through as ``fit.step_model`` (the step form
at any batch: a bucket's ``step_model`` sizes at ``slots`` in flight,
``dimensioning.occupancy``). Non-finite coefficients are refused (exit 2).

BLIS's end-to-end time is then ``S - (beta0 + beta2 + alpha2)``: the profile
counts O decode steps where BLIS counts O - 1 (the prefill step yields the
first token), so it is conservative by one decode step.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.profile import PROFILE_SCHEMA, Profile

__all__ = ["import_simfaasinfer", "import_blis"]

_Z95 = 1.959963984540054  # two-sided 95% normal quantile


def _read(path: Path, field: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(field, str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(field, str(path), f"cannot read it ({exc})") from None
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(field, str(path), f"not valid YAML ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(field, str(path), f"not valid JSON ({exc})") from None


def _number(value: Any, field: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """A finite number above ``minimum`` (or at least it when not ``strict``); else exit 2 naming the field."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, value, "must be a number") from None
    if not math.isfinite(number):
        raise InvalidInput(field, value, "must be finite (NaN and Infinity are not measurements): fix or drop the row")
    if number < minimum or (strict and number == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InvalidInput(field, value, f"must be {bound}: a zero or negative time or size cannot give a rate")
    return number


def _estimate(value: float, lo: float, hi: float, **extra: Any) -> dict[str, Any]:
    return {"value": value, "ci95": [min(lo, value), max(hi, value)], **extra}


def _document(fit: dict[str, Any], fmt: str, source: Path, artifact: dict[str, Any], mapping: dict[str, str], created: str | None) -> dict[str, Any]:
    import datetime as dt

    document = {
        "schema": PROFILE_SCHEMA,
        "artifact": {k: v for k, v in artifact.items() if v is not None},
        "backend": {"name": f"import:{fmt}", "endpoint": None, "source_file": str(source)},
        "created": created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "bucket_edges": [e["bucket"] for e in fit["r_prefill"]],
        "fit": fit,
        "mapping": mapping,
    }
    return Profile.model_validate(document).to_json_dict()


def _interp(x: float, xs: list[float], ys: list[float], field: str, what: str) -> float:
    if not xs[0] <= x <= xs[-1]:
        raise InvalidInput(field, x, f"outside the measured {what} range [{xs[0]:g}, {xs[-1]:g}]; pick values inside it (no extrapolation)")
    return float(np.interp(x, xs, ys))


def import_simfaasinfer(
    path: Path,
    buckets: tuple[int, ...] | None = None,
    decode_context: int | None = None,
    l_fixed_ms: float | None = None,
    artifact_id: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """Profile from a SimFaaSInfer ``fitted_profile.json`` (mapping in the module docstring)."""
    rows = _read(path, "FILE")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput("FILE", str(path), "expected a JSON list of prefill/decode rows (SimFaaSInfer fitted_profile.json)")
    prefill_rows: list[tuple[int, float, float]] = []
    decode_rows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    # decode step times at batch sizes > 1: carried through as per-sequence rates by sequences in flight
    batched: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(rows):
        where = f"FILE row {i} ({r.get('type')})"
        if r.get("type") not in ("prefill", "decode"):
            continue
        try:
            batch = int(_number(r.get("batch_size", 1), f"{where} batch_size", minimum=1, strict=False))
            mean_ms = _number(r["mean_ms"], f"{where} mean_ms")
            std_ms = _number(r.get("std_ms", 0.0), f"{where} std_ms", strict=False)
            if r["type"] == "prefill":
                size = int(_number(r["seq_len"], f"{where} seq_len"))
                if batch == 1:
                    prefill_rows.append((size, mean_ms, std_ms))
            else:
                context = int(_number(r["kv_cache"], f"{where} kv_cache", strict=False))
                if batch == 1:
                    decode_rows[context].append((mean_ms, std_ms))
                else:
                    batched[batch][context].append(mean_ms)
        except KeyError as exc:
            raise InvalidInput(where, str(path), f"the row lacks the field {exc}; give it") from None
    prefill = sorted(prefill_rows)
    if len(prefill) < 2:
        raise InvalidInput("FILE", str(path), "needs prefill rows at batch_size 1 for at least 2 seq_len values")
    if not decode_rows:
        raise InvalidInput("FILE", str(path), "needs decode rows at batch_size 1")

    seq = [float(p[0]) for p in prefill]
    mean = [p[1] for p in prefill]
    std = [p[2] for p in prefill]
    if l_fixed_ms is None:
        slope, intercept = np.polyfit(seq, mean, 1)
        if intercept <= 0:
            raise InvalidInput("--l-fixed-ms", None, "the prefill times do not extrapolate to a positive overhead; give --l-fixed-ms")
        l_fixed_ms = float(intercept)
        l_source = "intercept of a least-squares line through batch-1 prefill mean_ms against seq_len"
    else:
        l_source = "given with --l-fixed-ms"
    chosen = buckets or tuple(int(s) for s in seq)
    r_prefill = []
    for bucket in chosen:
        t_ms = _interp(bucket, seq, mean, "--buckets", "seq_len")
        s_ms = _interp(bucket, seq, std, "--buckets", "seq_len")
        net = t_ms - l_fixed_ms
        if net <= 0:
            raise InvalidInput("--buckets", bucket, f"prefill time {t_ms:.3f} ms is not above L_fixed {l_fixed_ms:.3f} ms; drop this bucket or lower --l-fixed-ms")
        lo_net, hi_net = net + _Z95 * s_ms, max(net - _Z95 * s_ms, 1e-12)
        r_prefill.append(_estimate(bucket / net * 1e3, bucket / lo_net * 1e3, bucket / hi_net * 1e3, bucket=bucket))

    contexts = sorted(decode_rows)
    context = decode_context if decode_context is not None else contexts[-1]
    step_mean = [float(np.mean([m for m, _ in decode_rows[c]])) for c in contexts]
    step_std = [float(np.mean([s for _, s in decode_rows[c]])) for c in contexts]
    t_step = _interp(context, [float(c) for c in contexts], step_mean, "--decode-context", "kv_cache")
    s_step = _interp(context, [float(c) for c in contexts], step_std, "--decode-context", "kv_cache")
    r_decode = _estimate(1e3 / t_step, 1e3 / (t_step + _Z95 * s_step), 1e3 / max(t_step - _Z95 * s_step, 1e-12))
    fit = {
        "r_prefill": r_prefill,
        "r_decode": r_decode,
        "l_fixed_s": _estimate(l_fixed_ms / 1e3, l_fixed_ms / 1e3, l_fixed_ms / 1e3),
    }
    at_concurrency = [{"concurrency": 1, "value": r_decode["value"]}]
    for batch in sorted(batched):
        points = batched[batch]
        known = sorted(points)
        if known[0] <= context <= known[-1]:
            step = float(np.interp(context, [float(c) for c in known], [float(np.mean(points[c])) for c in known]))
            at_concurrency.append({"concurrency": batch, "value": 1e3 / step})
    if len(at_concurrency) > 1:
        fit["r_decode_at_concurrency"] = at_concurrency
    mapping = {
        "format": "SimFaaSInfer fitted_profile.json; the fit from batch_size 1 rows, decode rows at larger"
                  " batch sizes carried in fit.r_decode_at_concurrency (per-sequence tokens/s by batch size)",
        "r_prefill": "bucket / (prefill mean_ms at seq_len = bucket, linearly interpolated, - L_fixed)",
        "r_decode": f"1 / (decode mean_ms at kv_cache = {context}, averaged over new_tokens, interpolated)",
        "l_fixed_s": l_source,
        "ci95": "mean +/- 1.96 std_ms of single runs mapped through the rate (a spread, not an interval of the mean); L_fixed a point value",
    }
    return _document(fit, "simfaasinfer", path, {"id": artifact_id}, mapping, created)


def _pick_blis_entry(data: Any, path: Path, model: str | None, gpu: str | None, tp: int | None) -> dict[str, Any]:
    if isinstance(data, dict) and "beta_coeffs" in data:
        return data
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidInput("FILE", str(path), "expected beta_coeffs at the top level or a models list (BLIS coefficients.yaml)")
    matches = [
        e for e in entries
        if isinstance(e, dict) and "beta_coeffs" in e
        and (model is None or str(e.get("id", "")).lower() == model.lower())
        and (gpu is None or str(e.get("GPU", "")).lower() == gpu.lower())
        and (tp is None or e.get("tensor_parallelism") == tp)
    ]
    if len(matches) != 1:
        choices = sorted({f"{e.get('id')} GPU={e.get('GPU')} tp={e.get('tensor_parallelism')}" for e in entries if isinstance(e, dict)})
        raise InvalidInput(
            "--model/--gpu/--tp", f"{model}/{gpu}/{tp}",
            f"{len(matches)} entries match; pick exactly one of: {'; '.join(choices[:12])}{' ...' if len(choices) > 12 else ''}",
        )
    return matches[0]


def import_blis(
    path: Path,
    buckets: tuple[int, ...] = (512, 1024, 2048, 8192),
    model: str | None = None,
    gpu: str | None = None,
    tp: int | None = None,
    l_fixed_ms: float | None = None,
    artifact_id: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """Profile from BLIS beta (and alpha) coefficients, microseconds (mapping in the module docstring)."""
    entry = _pick_blis_entry(_read(path, "FILE"), path, model, gpu, tp)
    alpha = entry.get("alpha_coeffs")
    for name, coeffs in (("beta_coeffs", entry["beta_coeffs"]), ("alpha_coeffs", alpha)):
        if coeffs is not None and (not isinstance(coeffs, list) or len(coeffs) != 3):
            raise InvalidInput(f"FILE {name}", coeffs, "must be a list of 3 numbers (microseconds)")
    b0, b1, b2 = (_number(v, f"FILE beta_coeffs[{i}]", strict=False) for i, v in enumerate(entry["beta_coeffs"]))
    a0, a1, a2 = ((_number(v, f"FILE alpha_coeffs[{i}]", strict=False) for i, v in enumerate(alpha))
                  if alpha is not None else (0.0, 0.0, 0.0))
    if min(b0, b1, b2, a0, a1, a2) < 0:
        raise InvalidInput("FILE", str(path), "negative coefficients: a BLIS fit gives non-negative beta and alpha")
    if l_fixed_ms is not None:
        l_fixed_s, l_source = l_fixed_ms / 1e3, "given with --l-fixed-ms"
    elif alpha is not None and a0 + a2 > 0:
        l_fixed_s, l_source = (a0 + a2) / 1e6, "alpha0 + alpha2 (queueing constant and first-token output processing), us"
    else:
        raise InvalidInput("--l-fixed-ms", None, "the file has no alpha_coeffs, so no per-request overhead: give --l-fixed-ms")
    if b1 + a1 <= 0 or b0 + b2 + a2 <= 0:
        raise InvalidInput("FILE", str(path), "prefill or decode step time is zero; the coefficients cannot give rates")
    r_prefill = []
    for bucket in buckets:
        t_us = (a1 + b1) * bucket + b0
        r_prefill.append(_estimate(bucket / t_us * 1e6, bucket / t_us * 1e6, bucket / t_us * 1e6, bucket=bucket))
    step_us = b0 + b2 + a2
    fit = {
        "r_prefill": r_prefill,
        "r_decode": _estimate(1e6 / step_us, 1e6 / step_us, 1e6 / step_us),
        "l_fixed_s": _estimate(l_fixed_s, l_fixed_s, l_fixed_s),
        # the batch dependence, carried through: a bucket's step_model sizes at slots in flight
        "step_model": {"beta0_us": b0, "beta1_us": b1, "beta2_us": b2},
    }
    mapping = {
        "format": "BLIS beta/alpha coefficients (us); rates at batch 1, no chunked prefill; the step form in"
                  " fit.step_model (copy it into the bucket as step_model to size at slots in flight)",
        "r_prefill": "bucket / ((alpha1 + beta1) * bucket + beta0) us",
        "r_decode": "1 / (beta0 + beta2 + alpha2) us",
        "l_fixed_s": l_source,
        "conservative_by": "one decode step (beta0 + beta2 + alpha2): BLIS counts O - 1 decode steps, the profile O",
        "ci95": "point values: BLIS gives no intervals",
        "source_entry": ", ".join(f"{k}={entry[k]}" for k in ("id", "GPU", "tensor_parallelism", "vllm_version") if k in entry),
    }
    return _document(fit, "blis", path, {"id": artifact_id or entry.get("id"), "hardware": entry.get("GPU")}, mapping, created)
