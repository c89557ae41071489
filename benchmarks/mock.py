"""The mock LPU: a deterministic service-time model with a known ground truth.

A request of ``P`` prompt tokens is served by the smallest bucket whose
``max_prompt_tokens`` holds it and padded to that length (the compiled shape);
its timeline on the backend's clock, from the moment it is sent, is

- ``L_fixed`` of fixed overhead, after which the first byte arrives;
- prefill of the padded prompt: ``max_prompt_tokens / r_prefill``;
- decode: ``O / r_decode``, with the ``O`` tokens evenly spaced, the first one
  a gap after prefill ends and the last one at the end; a streamed request
  adds ``stream_overhead_ms_per_token`` per token (0 by default), a
  non-streamed one arrives whole at the end (no token events).

With ``padded = false`` at the top of the truth file the prefill takes the
request's real length instead (a GPU-like server), which is what the
client-timing fit assumes. So the end-to-end service time is DESIGN.md's ``S = P/R_prefill + O/R_decode +
L_fixed``. With ``jitter_cv > 0`` each of the three phases is multiplied by an
independent lognormal factor of mean 1 and coefficient of variation
``jitter_cv`` (drawn from ``numpy.random.default_rng([seed, nonce])``, so a
sample's times do not depend on the order it is sent in). The mock reports
server timings in Groq's form (queue 0, prompt and completion times), as an
on-prem Groq endpoint does.

With a :class:`~benchmarks.clock.VirtualClock` a sweep is instant; with a
:class:`~benchmarks.clock.RealClock` the mock sleeps through each phase.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from benchmarks.clock import Clock, VirtualClock
from benchmarks.errors import BackendHTTPError
from benchmarks.protocol import Measurement, RequestSpec, ServerTimings
from dimensioning.errors import InvalidInput, first_validation_problem

__all__ = ["TruthBucket", "MockTruth", "load_truth", "MockBackend"]


class TruthBucket(BaseModel):
    """One ``[[bucket]]`` of a truth file, in the project-file form and units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_prompt_tokens: int = Field(gt=0, description="compiled prompt length, tokens")
    r_prefill: float = Field(gt=0, allow_inf_nan=False, description="prompt tokens/s at the padded length")
    r_decode: float = Field(gt=0, allow_inf_nan=False, description="output tokens/s")
    l_fixed_ms: float = Field(ge=0, allow_inf_nan=False, description="fixed overhead per request, ms")
    name: str | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)


class MockTruth(BaseModel):
    """A truth file: buckets by increasing prompt length and a jitter CV."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    jitter_cv: float = Field(default=0.0, ge=0, le=2.0, allow_inf_nan=False, description="CV of each phase's multiplicative noise")
    stream_overhead_ms_per_token: float = Field(
        default=0.0, ge=0, le=1e3, allow_inf_nan=False,
        description="what streaming adds per output token, ms (the SSE send of every token); non-streamed answers skip it",
    )
    padded: bool = Field(default=True, description="pad prompts to the bucket (an LPU); false: prefill the real length (a GPU server)")
    buckets: tuple[TruthBucket, ...] = Field(alias="bucket", min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> "MockTruth":
        edges = [b.max_prompt_tokens for b in self.buckets]
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"bucket max_prompt_tokens {edges} must strictly increase")
        return self

    def bucket_for(self, prompt_tokens: int) -> TruthBucket | None:
        """The smallest bucket that holds ``prompt_tokens``, or None."""
        for bucket in self.buckets:
            if prompt_tokens <= bucket.max_prompt_tokens:
                return bucket
        return None


def load_truth(path: Path, field: str = "--truth") -> MockTruth:
    """Read a truth TOML file; problems raise InvalidInput naming the key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(field, str(path), "no such file; give a TOML file of [[bucket]] tables and jitter_cv") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(field, str(path), f"cannot read it as TOML ({exc})") from None
    try:
        return MockTruth.model_validate(data)
    except ValidationError as exc:
        raise first_validation_problem(exc, f"{field} ({path})") from None


def _lognormal_factor(rng: np.random.Generator, cv: float) -> float:
    """Multiplicative noise of mean 1 and coefficient of variation ``cv``."""
    if cv == 0:
        return 1.0
    sigma2 = math.log1p(cv * cv)
    return float(rng.lognormal(mean=-sigma2 / 2, sigma=math.sqrt(sigma2)))


class MockBackend:
    """A deterministic LPU model (see the module docstring for its timeline)."""

    name = "mock"

    def __init__(
        self,
        truth: MockTruth,
        clock: Clock | None = None,
        seed: int = 0,
        report_server_timings: bool = True,
    ) -> None:
        self.truth = truth
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.seed = int(seed)
        self.report_server_timings = report_server_timings

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": "mock://virtual" if isinstance(self.clock, VirtualClock) else "mock://real-time",
            "jitter_cv": self.truth.jitter_cv,
            "seed": self.seed,
            "truth_sha256": self.truth_digest(),
        }

    def truth_digest(self) -> str:
        """SHA-256 of the truth's canonical JSON: binds a samples file to the truth it measured."""
        import hashlib
        import json

        text = json.dumps(self.truth.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _at(self, target_ns: int) -> int:
        """Wait until ``target_ns`` on the clock; return the time reached."""
        now = self.clock.now_ns()
        if target_ns > now:
            self.clock.sleep((target_ns - now) / 1e9)
        return self.clock.now_ns()

    def measure(self, request: RequestSpec) -> Measurement:
        bucket = self.truth.bucket_for(request.prompt_tokens)
        if bucket is None:
            largest = self.truth.buckets[-1].max_prompt_tokens
            raise BackendHTTPError(
                f"400: prompt of {request.prompt_tokens} tokens exceeds the largest compiled shape ({largest})",
                status=400,
            )
        if request.output_tokens < 1:
            raise BackendHTTPError("400: max_tokens must be >= 1", status=400)
        rng = np.random.default_rng([self.seed, request.nonce])
        cv = self.truth.jitter_cv
        fixed_s = bucket.l_fixed_ms / 1e3 * _lognormal_factor(rng, cv)
        prefill_tokens = bucket.max_prompt_tokens if self.truth.padded else request.prompt_tokens
        prefill_s = prefill_tokens / bucket.r_prefill * _lognormal_factor(rng, cv)
        decode_s = request.output_tokens / bucket.r_decode * _lognormal_factor(rng, cv)
        streamed = request.mode == "streamed"
        if streamed:
            decode_s += request.output_tokens * self.truth.stream_overhead_ms_per_token / 1e3

        sent = self.clock.now_ns()
        first_byte = self._at(sent + round(fixed_s * 1e9))
        prefill_end = sent + round((fixed_s + prefill_s) * 1e9)
        gap_ns = decode_s * 1e9 / request.output_tokens
        tokens = tuple(self._at(prefill_end + round(i * gap_ns)) for i in range(1, request.output_tokens + 1))
        end = tokens[-1]
        server = None
        if self.report_server_timings:
            server = ServerTimings(
                source="mock",
                queue_s=0.0,
                prompt_s=prefill_s,
                completion_s=decode_s,
                total_s=prefill_s + decode_s,
                prompt_n=request.prompt_tokens,
                completion_n=request.output_tokens,
            )
        if not streamed:  # the whole answer arrives at the end
            return Measurement(
                sent_ns=sent, first_byte_ns=end, first_token_ns=end, token_ns=(), end_ns=end,
                prompt_tokens=request.prompt_tokens, completion_tokens=request.output_tokens, cached_tokens=0,
                finish_reason="length", server=server, mode="non-streamed",
            )
        return Measurement(
            sent_ns=sent,
            first_byte_ns=first_byte,
            first_token_ns=tokens[0],
            token_ns=tokens,
            end_ns=end,
            prompt_tokens=request.prompt_tokens,
            completion_tokens=request.output_tokens,
            cached_tokens=0,
            finish_reason="length",
            server=server,
        )
