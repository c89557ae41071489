"""The measured-profile file: schema ``lpuplan.profile/1``.

A profile records what a compiled artifact was measured to do: prefill rate
per prompt bucket, decode rate, fixed overhead, each with a 95% confidence
interval. ``lpuplan bench`` writes it; a project file's ``[[bucket]]`` reads it
through ``profile = "profile.json"`` and its figures carry provenance
``measured``.

Minimal valid profile::

    {
      "schema": "lpuplan.profile/1",
      "artifact": {"id": "llama-70b-int8-576", "model": "llama-3.3-70b", "hardware": "groqrack-gen1"},
      "fit": {
        "r_prefill": [{"bucket": 512, "value": 40000.0, "ci95": [39500.0, 40500.0]}],
        "r_decode": {"value": 280.0, "ci95": [278.0, 282.0]},
        "l_fixed_s": {"value": 0.030, "ci95": [0.029, 0.031]}
      }
    }

Optional keys the harness fills: ``backend`` (name, endpoint without secrets),
``created`` (ISO 8601), ``bucket_edges``, ``fit.service_cv`` (per shape
coefficient of variation of service time), ``fit.r_decode_server`` (the same
fit from server-reported timings), ``samples`` (path and counts), ``mapping``
(how an importer mapped a foreign format's fields). Unknown top-level keys are
kept, so later schema additions stay readable by this version.

Serving mode and occupancy (written by ``lpuplan bench``; absent in older or
imported profiles, which then say nothing about them):

- ``fit.mode``: ``"streamed"`` or ``"non-streamed"``: the serving mode the
  ``fit`` figures describe (a streamed request pays a per-token send cost a
  non-streamed one does not); ``fit.occupancy``: requests in flight while
  measured (1 = one at a time; N = per-sequence rates at occupancy N).
- ``fits``: one fit per measured mode, keyed ``"streamed"`` /
  ``"non-streamed"``, each in the form of ``fit`` (``fit`` is one of them: the
  streamed one when both were measured). A consumer that knows which mode its
  traffic uses takes :meth:`Profile.fit_for_mode`; None means the profile did
  not measure that mode (report it as an assumption, do not substitute).
- ``streaming_overhead``: with both modes, what streaming adds:
  ``per_token_s`` and ``per_request_s`` (value, ci95, samples; may be <= 0).
- ``measurement``: ``modes``, ``concurrency``, ``plan`` (the sweep plan) and
  ``binding`` (endpoint, model, hardware, artifact the samples are bound to).

Every figure is finite: ``Infinity`` or ``NaN`` anywhere in a fit is refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

from dimensioning.errors import InvalidInput, first_validation_problem
from dimensioning.json_text import check_schema, read_json_document
from dimensioning.inputs import MAX_TOKENS

__all__ = [
    "PROFILE_SCHEMA",
    "Estimate",
    "BucketEstimate",
    "ShapeCv",
    "ProfileFit",
    "SignedEstimate",
    "StreamingOverheadFit",
    "Profile",
    "load_profile",
]

PROFILE_SCHEMA = "lpuplan.profile/1"


class Estimate(BaseModel):
    """A fitted value with its 95% confidence interval (same unit as value)."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    value: FiniteFloat = Field(gt=0)
    ci95: tuple[FiniteFloat, FiniteFloat]
    samples: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _interval_holds_value(self) -> "Estimate":
        lo, hi = self.ci95
        if not lo <= self.value <= hi:
            raise ValueError(f"ci95 {list(self.ci95)} must contain value {self.value}")
        return self


class BucketEstimate(Estimate):
    """``fit.r_prefill`` entry: prompt tokens/s at the padded length ``bucket``."""

    bucket: int = Field(gt=0, le=MAX_TOKENS)


class ShapeCv(BaseModel):
    """Coefficient of variation of end-to-end service time for one shape."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    prompt_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    value: FiniteFloat = Field(ge=0)
    samples: int | None = Field(default=None, ge=0)


class ProfileFit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    r_prefill: tuple[BucketEstimate, ...]
    r_decode: Estimate
    l_fixed_s: Estimate
    service_cv: tuple[ShapeCv, ...] = ()
    mode: Literal["streamed", "non-streamed"] | None = None
    occupancy: int | None = Field(default=None, ge=1)

    def r_prefill_for(self, bucket: int) -> BucketEstimate | None:
        for entry in self.r_prefill:
            if entry.bucket == bucket:
                return entry
        return None


class SignedEstimate(BaseModel):
    """A fitted difference with its 95% interval: may be zero or negative."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    value: FiniteFloat
    ci95: tuple[FiniteFloat, FiniteFloat]
    samples: int | None = Field(default=None, ge=0)


class StreamingOverheadFit(BaseModel):
    """What streaming adds to a request, s: per output token and per request."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    per_token_s: SignedEstimate
    per_request_s: SignedEstimate


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    schema_: Literal["lpuplan.profile/1"] = Field(alias="schema")
    artifact: dict[str, Any] = Field(default_factory=dict)
    fit: ProfileFit
    fits: dict[Literal["streamed", "non-streamed"], ProfileFit] = Field(default_factory=dict)
    streaming_overhead: StreamingOverheadFit | None = None

    def fit_for_mode(self, mode: str) -> ProfileFit | None:
        """The fit measured in serving ``mode`` (streamed / non-streamed), or None if it was not measured."""
        if mode in self.fits:
            return self.fits[mode]  # type: ignore[index]
        return self.fit if self.fit.mode == mode else None

    def fit_for_serving(self, serving_mode: str | None) -> tuple[ProfileFit, str | None]:
        """The fit a bucket whose traffic is served in ``serving_mode`` is sized from, and that fit's mode.

        The fit measured in ``serving_mode`` where the profile has one (with
        both modes measured, each bucket takes its own); otherwise (that mode
        not measured, or ``serving_mode`` not said) the primary ``fit``, with
        the mode it records (None: not recorded), which the report then states
        as an assumption (:attr:`dimensioning.inputs.Bucket.mode_assumption`).
        """
        if serving_mode is not None:
            chosen = self.fit_for_mode(serving_mode)
            if chosen is not None:
                return chosen, serving_mode
        recorded = self.fit.mode or (self.model_extra or {}).get("mode")
        return self.fit, recorded if recorded in ("streamed", "non-streamed") else None

    @property
    def measured_modes(self) -> tuple[str, ...]:
        """The serving modes this profile measured (empty when it does not say)."""
        if self.fits:
            return tuple(sorted(self.fits))
        return (self.fit.mode,) if self.fit.mode else ()

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _first_non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The first ``Infinity``/``NaN`` anywhere in a parsed JSON document, with its path (``fit.r_decode.value``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for sub_path, item in items:
        found = _first_non_finite(item, sub_path)
        if found is not None:
            return found
    return None


def load_profile(path: Path, field: str = "profile") -> Profile:
    """Read and validate a profile file; errors name ``field`` and the problem."""
    raw = read_json_document(path, field, "give the path of a profile written by `lpuplan bench`",
                             "give a profile written by `lpuplan bench`")
    bad = _first_non_finite(raw, "")
    if bad is not None:
        raise InvalidInput(f"{field} ({path}): {bad[0] or '(document)'}", bad[1],
                           "a profile holds finite figures only; re-run `lpuplan bench` (or the import) for this figure")
    check_schema(raw, field, PROFILE_SCHEMA, "regenerate the profile with `lpuplan bench`")
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        raise first_validation_problem(exc, f"{field} ({path})", {
            "finite_number": "must be a finite number, not inf or nan; re-run `lpuplan bench` for this figure"}) from None
