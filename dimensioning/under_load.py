"""The under-load file: schema ``lpuplan.under_load/1`` (service time under load over the isolated one).

``lpuplan fidelity URL ... --write-under-load FILE`` writes it (see
docs/validate.md); a project's bucket reads it with ``under_load = "FILE"``
and its ``service_inflation`` then carries provenance ``measured``, with the
run it came from. The sizing multiplies the bucket's service time by it
(:mod:`dimensioning.service_time`). Form::

    {
      "schema": "lpuplan.under_load/1",
      "created": "2026-12-01T23:40:00+00:00",
      "source": {"command": "lpuplan fidelity", "url": "http://127.0.0.1:8000/v1", "mode": "non-streamed",
                 "runs": 2, "requests_per_run": 3000},
      "pools": {
        "p256": {
          "prompt_tokens": 256, "output_tokens": 32, "rho": 0.7, "estimator": "departure spacing",
          "generator_on_schedule": true,
          "service_inflation": {"value": 1.12, "ci95": [1.08, 1.16], "samples": 2400},
          "by_rho": [{"rho": 0.5, "value": 1.05, "ci95": [1.02, 1.08]}, {"rho": 0.7, "value": 1.12, "ci95": [1.08, 1.16]}]
        }
      }
    }

Each pool's ``service_inflation`` is the utilisation whose interval reaches
highest (the conservative one of those measured; ``rho`` says which);
``by_rho`` keeps every one. A bucket takes the pool of its own name, else
the one pool measured at its shape (``max_prompt_tokens`` x
``max_output_tokens``). Every figure is finite and positive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

from dimensioning.errors import first_validation_problem
from dimensioning.json_text import check_schema, read_json_document
from dimensioning.inputs import MAX_SERVICE_INFLATION, Bucket

__all__ = ["UNDER_LOAD_SCHEMA", "InflationEstimate", "PoolUnderLoad", "UnderLoad", "load_under_load"]

UNDER_LOAD_SCHEMA = "lpuplan.under_load/1"


class InflationEstimate(BaseModel):
    """A ratio (under load / isolated) with its 95% interval."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    value: FiniteFloat = Field(gt=0, le=MAX_SERVICE_INFLATION)
    ci95: tuple[FiniteFloat, FiniteFloat]
    samples: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _interval(self) -> "InflationEstimate":
        lo, hi = self.ci95
        if not 0 < lo <= self.value <= hi <= MAX_SERVICE_INFLATION:
            raise ValueError(f"ci95 {list(self.ci95)} must be positive, at most {MAX_SERVICE_INFLATION:g},"
                             f" and contain value {self.value}")
        return self


class PoolUnderLoad(BaseModel):
    """One pool's measured inflation (the conservative utilisation's) and how it was measured."""

    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    prompt_tokens: int = Field(gt=0)
    output_tokens: int = Field(gt=0)
    rho: FiniteFloat = Field(gt=0, lt=1)
    estimator: str
    service_inflation: InflationEstimate
    generator_on_schedule: bool = True


class UnderLoad(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", allow_inf_nan=False)

    schema_: Literal["lpuplan.under_load/1"] = Field(alias="schema")
    created: str
    source: dict[str, Any] = Field(default_factory=dict)
    pools: dict[str, PoolUnderLoad]

    def for_bucket(self, bucket: Bucket) -> tuple[str, PoolUnderLoad] | None:
        """The pool of the bucket's name, else the one pool measured at its shape (None: neither)."""
        if bucket.label in self.pools:
            return bucket.label, self.pools[bucket.label]
        same = [(name, p) for name, p in self.pools.items()
                if (p.prompt_tokens, p.output_tokens) == (bucket.max_prompt_tokens, bucket.max_output_tokens)]
        return same[0] if len(same) == 1 else None

    def describe(self, name: str) -> str:
        """Where one pool's figure came from, for the report: run, time, load, estimator."""
        pool = self.pools[name]
        src = self.source
        runs = f", {src['runs']} run(s) x {src['requests_per_run']} requests" if "runs" in src and "requests_per_run" in src else ""
        return (f"{src.get('command', 'lpuplan fidelity')} {src.get('url', '')} ({src.get('mode', 'mode not recorded')})"
                f" at {self.created}: pool {name} ({pool.prompt_tokens}:{pool.output_tokens}) at rho {pool.rho:g},"
                f" {pool.estimator}{runs}"
                + ("" if pool.generator_on_schedule else " (the load generator fell behind its schedule)")).replace("  ", " ")

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def load_under_load(path: Path, field: str = "under_load") -> UnderLoad:
    """Read and validate an under-load file; errors name ``field`` and the problem."""
    raw = read_json_document(path, field, "write it with `lpuplan fidelity URL ... --write-under-load FILE`",
                             "give a file written by `lpuplan fidelity`")
    check_schema(raw, field, UNDER_LOAD_SCHEMA, "write it with `lpuplan fidelity --write-under-load`")
    try:
        return UnderLoad.model_validate(raw)
    except ValidationError as exc:
        raise first_validation_problem(exc, f"{field} ({path})") from None
