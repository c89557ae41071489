"""The project file (TOML): load, validate, resolve profiles.

The tables belong to the packages that use them (``dimensioning.inputs`` for
workload, SLO, headroom, redundancy, admission and buckets;
``facility.inputs`` for hardware and facility); this module composes them
into one :class:`Project`, reads the file with :mod:`tomllib`, turns every
validation problem into an :class:`~dimensioning.errors.InvalidInput` that
names the field, the value and the fix, and resolves relative paths against
the project file's folder.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Admission, Bucket, Headroom, Redundancy, Slo, Workload
from dimensioning.campaign import CampaignSpec
from dimensioning.cost import CostSpec
from dimensioning.forecast import ForecastSpec
from dimensioning.profile import load_profile
from dimensioning.search_space import SearchSpec
from facility.inputs import FacilitySpec, HardwareSpec

__all__ = [
    "Project",
    "ProjectFileError",
    "load_project",
    "parse_project",
    "example_project_text",
    "EXAMPLE_NAME",
    "EXAMPLES",
]

EXAMPLE_NAME = "example.toml"


class ProjectFileError(InvalidInput):
    """One or more problems in a project file; ``problems`` lists each."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.field, first.value, first.fix)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class Project(BaseModel):
    """A whole project file, validated. Paths are absolute after loading."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = "lpuplan project"
    workload: Workload
    slo: Slo
    headroom: Headroom = Headroom()
    redundancy: Redundancy = Redundancy()
    admission: Admission = Admission()
    buckets: tuple[Bucket, ...] = Field(alias="bucket", min_length=1)
    hardware: HardwareSpec | None = None
    facility: FacilitySpec | None = None
    cost: CostSpec | None = None
    forecast: ForecastSpec | None = None
    campaign: CampaignSpec | None = None
    search: SearchSpec | None = None

    @model_validator(mode="after")
    def _buckets_ordered(self) -> "Project":
        edges = [b.max_prompt_tokens for b in self.buckets]
        for i in range(1, len(edges)):
            if edges[i] <= edges[i - 1]:
                raise ValueError(
                    f"bucket[{i}].max_prompt_tokens = {edges[i]} is not above bucket[{i - 1}]'s {edges[i - 1]}:"
                    " list buckets by strictly increasing max_prompt_tokens"
                )
        labels = [b.label for b in self.buckets]
        if len(set(labels)) != len(labels):
            raise ValueError(f"bucket names {labels} repeat: give each bucket a unique name")
        return self

    def bucket_slo_ms(self, bucket: Bucket) -> float:
        return bucket.slo_p99_ms if bucket.slo_p99_ms is not None else self.slo.p99_ms


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "(file)"


def _fix_for(error: dict[str, Any]) -> str:
    kind = error["type"]
    msg = error["msg"]
    if kind == "extra_forbidden":
        return "unknown key: remove it or check its spelling against the README's project-file reference"
    if kind == "missing":
        return "required: add it (see the README's project-file reference)"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    if kind == "finite_number":
        return "must be a finite number, not inf or nan: give the real figure"
    limit = (error.get("ctx") or {}).get("le")
    if kind == "less_than_equal" and limit is not None and limit > 1:  # the MAX_* limits, not a share's 1
        return (f"is above {limit:,}, lpuplan's documented limit for this field (README.md, Limits):"
                " check the unit and the figure")
    return msg.replace("Input should be", "must be")


class _Absent:
    """Stands for the value of a required field that is not there (pydantic reports the enclosing table)."""

    def __repr__(self) -> str:
        return "(absent)"

    __str__ = __repr__


_ABSENT = _Absent()


def _problems(exc: ValidationError) -> list[InvalidInput]:
    errors = exc.errors()
    item_failed = {tuple(e["loc"][:1]) for e in errors if len(e["loc"]) > 1}
    out = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc[:1] in item_failed:
            continue  # a list whose items failed is reported through the items
        value = _ABSENT if error["type"] == "missing" else error.get("input")
        if isinstance(value, (dict, list, tuple)) and error["type"] != "extra_forbidden":
            value = "{...}" if isinstance(value, dict) else "[...]"
        out.append(InvalidInput(_field_path(loc), value, _fix_for(error)))
    return out


def parse_project(data: dict[str, Any], base_dir: Path) -> Project:
    """Validate a parsed TOML document; resolve relative paths against ``base_dir``."""
    data = dict(data)
    for i, table in enumerate(data.get("bucket") or []):
        if isinstance(table, dict) and "measured" in table:
            raise InvalidInput(f"bucket[{i}].measured", table["measured"],
                               "not a project-file key: measured figures come from profile = \"...\"; remove it")
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        raise ProjectFileError(_problems(exc)) from None
    return _resolve(project, base_dir)


def _resolve(project: Project, base_dir: Path) -> Project:
    """Make paths absolute and take bucket rates from their profiles."""
    workload = project.workload
    if workload.trace is not None and not workload.trace.is_absolute():
        workload = workload.model_copy(update={"trace": (base_dir / workload.trace).resolve()})
    if workload.trace is not None and not workload.trace.is_file():
        what = "is a folder" if workload.trace.is_dir() else "no such trace file"
        raise InvalidInput("workload.trace", str(workload.trace),
                           f"{what}; give the path of a CSV with columns prompt_tokens,output_tokens[,timestamp]"
                           " (a relative path is relative to the project file)")
    buckets = []
    for i, bucket in enumerate(project.buckets):
        if bucket.profile is not None:
            path = bucket.profile if bucket.profile.is_absolute() else (base_dir / bucket.profile).resolve()
            bucket = _apply_profile(bucket.model_copy(update={"profile": path}), i, project.headroom.measured_estimate)
        if bucket.under_load is not None:
            path = bucket.under_load if bucket.under_load.is_absolute() else (base_dir / bucket.under_load).resolve()
            bucket = _apply_under_load(bucket.model_copy(update={"under_load": path}), i, project.headroom.measured_estimate)
        buckets.append(bucket)
    return project.model_copy(update={"workload": workload, "buckets": tuple(buckets)})


def _apply_profile(bucket: Bucket, index: int, estimate: str) -> Bucket:
    """Fill r_prefill, r_decode and l_fixed_ms from the bucket's profile.

    With ``estimate = "conservative"`` (the default of
    ``[headroom] measured_estimate``) each figure is taken at the end of its
    95% interval that makes the service time longest (slowest prefill and
    decode, largest fixed overhead), so the sizing survives the measurement's
    uncertainty (DESIGN.md: a 20% capacity error near saturation is a 1000x
    latency error); ``"point"`` takes the fitted values. Either way the point
    estimate and interval are kept for the report. Values written in the
    project file win over the profile (an explicit override) and stay ``given``.
    """
    assert bucket.profile is not None
    field = f"bucket[{index}].profile"
    profile = load_profile(bucket.profile, field=field)
    # the fit of the mode this bucket's traffic is served in (serving_mode), where the profile measured it
    chosen, fit_mode = profile.fit_for_serving(bucket.serving_mode)
    conservative = estimate == "conservative"
    update: dict[str, Any] = {}
    measured: dict[str, tuple[float, float, float]] = {}
    if bucket.r_prefill is None:
        entry = chosen.r_prefill_for(bucket.max_prompt_tokens)
        if entry is None:
            have = [e.bucket for e in chosen.r_prefill]
            raise InvalidInput(
                field,
                str(bucket.profile),
                f"has no r_prefill fit for bucket {bucket.max_prompt_tokens} (it has {have});"
                " measure that bucket or give r_prefill in the project file",
            )
        measured["r_prefill"] = (entry.value, *entry.ci95)
        update["r_prefill"] = entry.ci95[0] if conservative else entry.value
    if bucket.r_decode is None:
        fit = chosen.r_decode
        measured["r_decode"] = (fit.value, *fit.ci95)
        update["r_decode"] = fit.ci95[0] if conservative else fit.value
    if bucket.l_fixed_ms is None:
        fit = chosen.l_fixed_s
        measured["l_fixed_ms"] = (fit.value * 1e3, fit.ci95[0] * 1e3, fit.ci95[1] * 1e3)
        update["l_fixed_ms"] = (fit.ci95[1] if conservative else fit.value) * 1e3
    for name, (point, low, high) in measured.items():
        if low <= 0:
            raise InvalidInput(f"{field}: fit.{name}.ci95", [low, high],
                               "the interval reaches zero or below: the fit is too uncertain to size from; measure more samples")
    _check_profile_figures(bucket, update, field)
    update["measured"] = measured
    update["profile_mode"] = fit_mode  # the mode of the fit taken (None: the profile does not record it)
    return bucket.model_copy(update=update)


def _apply_under_load(bucket: Bucket, index: int, estimate: str) -> Bucket:
    """Fill ``service_inflation`` from the bucket's under-load file (``lpuplan fidelity --write-under-load``).

    Provenance ``measured``, with the run it came from (``measured_from``);
    like a profile's figures it is taken at the conservative end of its 95%
    interval (the upper end: the slowest service), and not below 1 (an
    interval wholly below 1 says the server ran faster loaded than alone,
    more likely a noisy isolated figure: S stays the isolated one, and the
    note says why), unless ``[headroom] measured_estimate = "point"``
    (the fit as measured). A ``service_inflation`` written in the project
    file wins and stays ``given``.
    """
    from dimensioning.under_load import load_under_load

    assert bucket.under_load is not None
    field = f"bucket[{index}].under_load"
    under = load_under_load(bucket.under_load, field=field)
    found = under.for_bucket(bucket)
    if found is None:
        have = {name: f"{p.prompt_tokens}:{p.output_tokens}" for name, p in under.pools.items()}
        raise InvalidInput(field, str(bucket.under_load),
                           f"has no pool named {bucket.label} nor one pool of its shape"
                           f" {bucket.max_prompt_tokens}:{bucket.max_output_tokens} (it has {have}); measure this"
                           " bucket with `lpuplan fidelity --project` or name the pool like the bucket")
    if bucket.service_inflation is not None:
        return bucket
    name, pool = found
    estimate_ = pool.service_inflation
    value = estimate_.ci95[1] if estimate == "conservative" else estimate_.value
    source = f"measured by {under.describe(name)}"
    if estimate == "conservative" and value < 1.0:
        # faster under load than alone, even at the interval's top: more likely a noisy isolated figure than a
        # faster server; the conservative sizing does not shorten S on it (measured_estimate = "point" does)
        value = 1.0
        source = ("not below 1: the whole interval lies below 1 (faster under load than alone), so S is kept at the"
                  " isolated figure; " + source)
    return bucket.model_copy(update={
        "service_inflation": value,
        "measured": {**bucket.measured, "service_inflation": (estimate_.value, *estimate_.ci95)},
        "measured_from": {**bucket.measured_from, "service_inflation": source},
    })


_PROFILE_KEYS = {"r_prefill": "fit.r_prefill", "r_decode": "fit.r_decode", "l_fixed_ms": "fit.l_fixed_s"}


def _check_profile_figures(bucket: Bucket, update: dict[str, Any], field: str) -> None:
    """Hold figures taken from a profile to the same ranges as figures written in the project file.

    ``model_copy`` does not validate, so the bucket is validated again with the
    profile's figures in place: one validation path whichever way a figure comes in.
    """
    try:
        Bucket.model_validate({**bucket.model_dump(exclude={"measured"}), **update})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise InvalidInput(f"{field}: {_PROFILE_KEYS.get(name, name)}", error.get("input"),
                           f"{_fix_for(error)} (this figure comes from {bucket.profile}); re-measure it or"
                           f" give {name} in the project file") from None


def load_project(path: str | Path) -> Project:
    """Read, validate and resolve a project file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("FILE", str(path), "no such file; run `lpuplan init` to write an example project") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("FILE", str(path), f"cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("FILE", str(path), f"not valid TOML: {exc}") from None
    return parse_project(data, path.parent.resolve())


EXAMPLES = {
    "default": EXAMPLE_NAME,  # a 70B-class model, four prompt buckets, 16 slots per replica
    "showcase": "showcase.toml",  # one sequence per replica, short and long buckets, TTFT SLO, bursty, queues
}


def example_project_text(name: str = "default") -> str:
    """An embedded example project: ``default`` (what ``lpuplan plan`` runs) or ``showcase``."""
    if name not in EXAMPLES:
        raise InvalidInput("--example", name, f"use one of {sorted(EXAMPLES)}")
    return resources.files("lpuplan").joinpath(EXAMPLES[name]).read_text(encoding="utf-8")
