"""Turn a fit into a ``lpuplan.profile/1`` document (schema: dimensioning/profile.py).

The document is validated by :class:`dimensioning.profile.Profile` before it
is returned, so whatever this module writes ``load_profile`` reads back.
Keys beyond the minimal schema: ``backend`` (name, endpoint without secrets,
model), ``created`` (ISO 8601, UTC), ``bucket_edges``, ``fit.r_decode_server``
and ``fit.r_decode_itl`` (both decode fits, where available), ``fit.service_cv``
(per shape), ``samples`` (path of the raw JSONL and counts, the samples
dropped and why), ``method`` (how each figure was obtained, and the outlier
rule), ``fit.mode``/``fit.occupancy``, ``fits`` (one per measured mode),
``streaming_overhead`` and ``measurement`` (see dimensioning/profile.py).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from benchmarks.fit import OUTLIER_MADS, FitImpossible, FitResult, Interval, StreamingOverhead
from dimensioning.profile import PROFILE_SCHEMA, Profile

__all__ = ["build_profile", "fit_json", "interval_json"]


def interval_json(interval: Interval, **extra: Any) -> dict[str, Any]:
    """``{"value", "ci95", "samples"}`` plus any extra keys."""
    return {"value": interval.value, "ci95": [interval.ci95[0], interval.ci95[1]], "samples": interval.samples, **extra}


def fit_json(fit: FitResult) -> dict[str, Any]:
    """One fit in the ``fit`` form of the schema (with its mode, occupancy and methods)."""
    out: dict[str, Any] = {
        "mode": fit.mode,
        "occupancy": fit.occupancy,
        "r_prefill": [interval_json(b.rate, bucket=b.bucket) for b in fit.r_prefill],
        "r_decode": interval_json(fit.r_decode, method=fit.r_decode_method),
        "l_fixed_s": interval_json(fit.l_fixed_s),
        "service_cv": [
            {
                "bucket": s.bucket,
                "prompt_tokens": s.prompt_tokens,
                "output_tokens": s.output_tokens,
                "value": s.cv,
                "mean_service_s": s.mean_service_s,
                "samples": s.samples,
                "outliers": s.outliers,
            }
            for s in fit.shapes
        ],
        "method": _methods(fit),
        "counts": dict(fit.counts),
    }
    if fit.r_decode_itl is not None:
        out["r_decode_itl"] = interval_json(fit.r_decode_itl, method="inter-token times (client)")
    if fit.r_decode_server is not None:
        out["r_decode_server"] = interval_json(fit.r_decode_server, method="server timings")
    return out


def _methods(fit: FitResult) -> dict[str, str]:
    if fit.prefill_method.startswith("server"):
        l_fixed = "end-to-end less queue, prompt and completion server times"
    else:
        l_fixed = "intercept of the least-squares fit of whole-request times (includes the floor's 1-token prefill: an upper bound)"
    return {"r_prefill": fit.prefill_method, "r_decode": fit.r_decode_method, "l_fixed_s": l_fixed}


def _non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first non-finite number in a JSON-ready value, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "."
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found:
                return found
    return None


def build_profile(
    fit: FitResult,
    artifact: dict[str, Any],
    backend: dict[str, Any],
    samples_path: str | None,
    sample_counts: dict[str, Any] | None = None,
    created: str | None = None,
    fits: dict[str, FitResult] | None = None,
    streaming_overhead: StreamingOverhead | None = None,
    measurement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The profile as a JSON-ready dict.

    ``artifact``: ``id``, ``model``, ``hardware`` (any may be absent);
    ``backend``: what ``Backend.describe()`` returned (no secrets);
    ``created``: ISO 8601 timestamp (default: now, UTC, to the second);
    ``fits``: every measured mode's fit (``fit`` is one of them);
    ``streaming_overhead``: with both modes; ``measurement``: modes,
    concurrency, plan and binding. Raises FitImpossible if any figure is not
    finite (a profile never holds Infinity or NaN).
    """
    if created is None:
        created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    fit_doc = fit_json(fit)
    methods = fit_doc.pop("method")
    fit_doc.pop("counts")
    document: dict[str, Any] = {
        "schema": PROFILE_SCHEMA,
        "artifact": {k: v for k, v in artifact.items() if v is not None},
        "backend": backend,
        "created": created,
        "bucket_edges": [b.bucket for b in fit.r_prefill],
        "fit": fit_doc,
        "samples": {"path": samples_path, **fit.counts, **(sample_counts or {})},
        "method": {
            **methods,
            "ci95": "Student t on the mean of per-sample times (least squares: on the coefficient); rates through 1/x",
            "outlier_rule": f"per shape, service time beyond {OUTLIER_MADS:g} x 1.4826 x MAD from the median is excluded",
            "cached": "samples with cached prompt tokens are excluded from prefill and L_fixed fits",
        },
    }
    if fits:
        document["fits"] = {mode: fit_json(f) for mode, f in sorted(fits.items())}
    if streaming_overhead is not None:
        document["streaming_overhead"] = {
            "per_token_s": interval_json(streaming_overhead.per_token_s),
            "per_request_s": interval_json(streaming_overhead.per_request_s),
            "method": "least squares on every sample's end-to-end time: a bucket indicator each, O, [streamed] and O [streamed]",
        }
    if measurement is not None:
        document["measurement"] = measurement
    where = _non_finite(document)
    if where is not None:
        raise FitImpossible(where, "not finite", "a figure of the fit is not a finite number; measure more samples (raise --repeats)")
    return Profile.model_validate(document).to_json_dict()
