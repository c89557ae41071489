"""Turn a fit into a ``lpuplan.profile/1`` document (schema: dimensioning/profile.py).

The document is validated by :class:`dimensioning.profile.Profile` before it
is returned, so whatever this module writes ``load_profile`` reads back.
Keys beyond the minimal schema: ``backend`` (name, endpoint without secrets,
model), ``created`` (ISO 8601, UTC), ``bucket_edges``, ``fit.r_decode_server``
and ``fit.r_decode_itl`` (both decode fits, where available), ``fit.service_cv``
(per shape), ``samples`` (path of the raw JSONL and counts) and ``method``
(how each figure was obtained, and the outlier rule).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from benchmarks.fit import OUTLIER_MADS, FitResult, Interval
from dimensioning.profile import PROFILE_SCHEMA, Profile

__all__ = ["build_profile", "interval_json"]


def interval_json(interval: Interval, **extra: Any) -> dict[str, Any]:
    """``{"value", "ci95", "samples"}`` plus any extra keys."""
    return {"value": interval.value, "ci95": [interval.ci95[0], interval.ci95[1]], "samples": interval.samples, **extra}


def build_profile(
    fit: FitResult,
    artifact: dict[str, Any],
    backend: dict[str, Any],
    samples_path: str | None,
    sample_counts: dict[str, int] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """The profile as a JSON-ready dict.

    ``artifact``: ``id``, ``model``, ``hardware`` (any may be absent);
    ``backend``: what ``Backend.describe()`` returned (no secrets);
    ``created``: ISO 8601 timestamp (default: now, UTC, to the second).
    """
    if created is None:
        created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    fit_json: dict[str, Any] = {
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
    }
    if fit.r_decode_itl is not None:
        fit_json["r_decode_itl"] = interval_json(fit.r_decode_itl, method="inter-token times (client)")
    if fit.r_decode_server is not None:
        fit_json["r_decode_server"] = interval_json(fit.r_decode_server, method="server timings")
    document: dict[str, Any] = {
        "schema": PROFILE_SCHEMA,
        "artifact": {k: v for k, v in artifact.items() if v is not None},
        "backend": backend,
        "created": created,
        "bucket_edges": [b.bucket for b in fit.r_prefill],
        "fit": fit_json,
        "samples": {"path": samples_path, **fit.counts, **(sample_counts or {})},
        "method": {
            "r_prefill": fit.prefill_method,
            "r_decode": fit.r_decode_method,
            "l_fixed_s": (
                "end-to-end less queue, prompt and completion server times"
                if fit.prefill_method.startswith("server")
                else "mean of (TTFT - 1/R_decode) over the floor samples (approximation, an upper bound)"
            ),
            "ci95": "Student t on the mean of per-sample times; rates through 1/x",
            "outlier_rule": f"per shape, service time beyond {OUTLIER_MADS:g} x 1.4826 x MAD from the median is excluded",
            "cached": "samples with cached prompt tokens are excluded from prefill and L_fixed fits",
        },
    }
    return Profile.model_validate(document).to_json_dict()
