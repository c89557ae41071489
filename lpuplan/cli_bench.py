"""CLI commands of the harness area: ``bench`` and ``profile show|import``.

Thin wrappers over :mod:`benchmarks`: parse, call, render (docs/bench.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_UNEXPECTED, guarded, stderr, stdout
from lpuplan.output import check_output_file, dumps_json, write_atomic, write_json

__all__ = ["register", "parse_int_list"]

profile_app = typer.Typer(
    name="profile",
    help="Inspect and import measured profiles (lpuplan.profile/1).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def parse_int_list(field: str, text: str) -> tuple[int, ...]:
    """``"512,1024"`` -> ``(512, 1024)``; InvalidInput naming ``field`` otherwise."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidInput(field, text, "give comma-separated whole numbers, e.g. 512,1024,2048") from None
    if not values:
        raise InvalidInput(field, text, "give at least one number, e.g. 512,1024,2048")
    return values


def _num(value: Any, scale: float = 1.0, fmt: str = "{:,.1f}") -> str:
    """A figure for people: ``-`` for anything that is not a finite number (never a crash)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        return "-"
    return fmt.format(value * scale)


def _ci(interval: dict[str, Any], scale: float = 1.0, fmt: str = "{:,.1f}") -> str:
    ci = interval.get("ci95")
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return "-"
    return f"[{_num(ci[0], scale, fmt)}, {_num(ci[1], scale, fmt)}]"


def _count(entry: dict[str, Any]) -> str:
    return "-" if entry.get("samples") is None else str(entry["samples"])


def _fit_table(fit: dict[str, Any], title: str, method: dict[str, Any]) -> tuple[Table, list[str]]:
    """The fit's figures; the method column holds a note number, the notes (method texts) are returned.

    The methods are sentences: in a column they wrap to ten lines a figure at
    80 columns, so each distinct one is printed once under the table.
    """
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("samples", justify="right")
    table.add_column("method")
    notes: list[str] = []

    def note(text: Any) -> str:
        text = str(text or "")
        if not text:
            return ""
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    method = fit.get("method") if isinstance(fit.get("method"), dict) else method
    for entry in fit.get("r_prefill") or []:
        table.add_row(
            f"R_prefill @ {entry.get('bucket', '?')} tok", f"{_num(entry.get('value'))} tok/s", _ci(entry), _count(entry),
            note(method.get("r_prefill", "")),
        )
    for key, label in (("r_decode", "R_decode"), ("r_decode_itl", "R_decode (inter-token)"), ("r_decode_server", "R_decode (server)")):
        entry = fit.get(key)
        if isinstance(entry, dict) and (key == "r_decode" or entry != fit.get("r_decode") or key == "r_decode_server"):
            table.add_row(label, f"{_num(entry.get('value'), fmt='{:,.2f}')} tok/s", _ci(entry, fmt="{:,.2f}"), _count(entry),
                          note(entry.get("method") or method.get(key, "")))
    entry = fit.get("l_fixed_s")
    if isinstance(entry, dict):
        table.add_row("L_fixed", f"{_num(entry.get('value'), 1e3, '{:,.3f}')} ms", _ci(entry, 1e3, "{:,.3f}"), _count(entry),
                      note(method.get("l_fixed_s", "")))
    return table, [f"[{i}] {text}" for i, text in enumerate(notes, start=1)]


def _print_fit(fit: dict[str, Any], title: str, method: dict[str, Any]) -> None:
    table, notes = _fit_table(fit, title, method)
    stdout.print(table)
    from lpuplan.formatting import say

    for line in notes:
        say(stdout, line, indent="  ")


def print_profile(profile: dict[str, Any], title: str) -> None:
    """Rich tables of a profile's fits (every measured mode), streaming overhead and per-shape service CV."""
    fit = profile.get("fit") or {}
    method = profile.get("method") or profile.get("mapping") or {}
    fits = profile.get("fits") if isinstance(profile.get("fits"), dict) else {}
    measurement = profile.get("measurement") if isinstance(profile.get("measurement"), dict) else {}
    if measurement:
        stdout.print(
            f"measured: mode {', '.join(measurement.get('modes') or ['?'])}; {measurement.get('concurrency', 1)} request(s) in flight"
            + ("" if measurement.get("concurrency", 1) == 1 else " (per-sequence rates at that occupancy)"),
            soft_wrap=True,
        )
    if fits:
        for mode_name, mode_fit in fits.items():
            primary = " (the profile's fit)" if mode_fit.get("mode") == fit.get("mode") else ""
            _print_fit(mode_fit, f"{title}: {mode_name}{primary}", method)
    else:
        suffix = f": {fit['mode']}" if fit.get("mode") else ""
        _print_fit(fit, f"{title}{suffix}", method)
    overhead = profile.get("streaming_overhead")
    if isinstance(overhead, dict):
        per_token = overhead.get("per_token_s") or {}
        per_request = overhead.get("per_request_s") or {}
        stdout.print(
            f"streaming overhead: {_num(per_token.get('value'), 1e3, '{:,.4f}')} ms per token {_ci(per_token, 1e3, '{:,.4f}')},"
            f" {_num(per_request.get('value'), 1e3, '{:,.3f}')} ms per request {_ci(per_request, 1e3, '{:,.3f}')} (95%)",
            soft_wrap=True,
        )
    shapes = fit.get("service_cv") or []
    if shapes:
        cv = Table(title="service time per shape (the determinism the sizing assumes)")
        for column in ("prompt tok", "output tok", "mean service ms", "CV", "samples", "outliers"):
            cv.add_column(column, justify="right")
        for shape in shapes:
            cv.add_row(
                str(shape.get("prompt_tokens", "")), str(shape.get("output_tokens", "")),
                _num(shape.get("mean_service_s"), 1e3, "{:,.3f}"), _num(shape.get("value"), fmt="{:.4f}"),
                str(shape.get("samples", "")), str(shape.get("outliers", "")),
            )
        stdout.print(cv)
    samples = profile.get("samples")
    if isinstance(samples, dict):
        dropped = ""
        if samples.get("dropped"):
            dropped = f"; {samples['dropped']} of {samples.get('planned', '?')} planned samples dropped {samples.get('dropped_by_reason', {})}"
        stdout.print(
            f"samples: {samples.get('ok', '?')} measured, {samples.get('failed', 0)} failed attempts,"
            f" {samples.get('outliers', 0)} outliers, {samples.get('cached', 0)} with cached prompt tokens{dropped}"
            + (f" ({samples['path']})" if samples.get("path") else ""),
            soft_wrap=True,
        )


def check_created(created: Optional[str]) -> None:
    """``--created`` must be an ISO 8601 timestamp."""
    if created is None:
        return
    import datetime as dt

    try:
        dt.datetime.fromisoformat(created)
    except ValueError:
        raise InvalidInput("--created", created, "give an ISO 8601 timestamp, e.g. 2026-01-01T00:00:00+00:00") from None


def _make_backend(
    backend: str, truth: Optional[Path], real_time: bool, seed: int, url: Optional[str], model: Optional[str],
    api: str, api_key_env: str, ignore_eos: bool, end_token: Optional[int], timeout_s: float, concurrency: int = 1,
) -> tuple[Any, Any, Optional[tuple[int, ...]]]:
    from benchmarks.clock import RealClock, VirtualClock  # the harness loads only when used

    if backend == "mock":
        from benchmarks.mock import MockBackend, load_truth

        if truth is None:
            raise InvalidInput("--truth", None, "the mock backend needs --truth FILE (TOML of [[bucket]] tables and jitter_cv)")
        ground = load_truth(truth)
        clock = RealClock() if real_time else VirtualClock()
        return MockBackend(ground, clock=clock, seed=seed), clock, tuple(b.max_prompt_tokens for b in ground.buckets)
    if backend == "openai":
        from benchmarks.openai_backend import OpenAIBackend
        from benchmarks.secrets import Redactor

        if not url:
            raise InvalidInput("--url", url, "the openai backend needs --url, e.g. https://api.groq.com/openai/v1")
        if not url.startswith(("http://", "https://")):
            shown = Redactor.for_backend(os.environ.get(api_key_env) if api_key_env else None, url).url(url)
            raise InvalidInput("--url", shown, "give an http:// or https:// URL ending in /v1")
        if not model:
            raise InvalidInput("--model", model, "the openai backend needs --model (the served model's id)")
        if api not in ("completions", "chat"):
            raise InvalidInput("--api", api, "use completions or chat")
        clock = RealClock()
        return (
            OpenAIBackend(url, model, api_key_env=api_key_env, api=api, timeout_s=timeout_s, ignore_eos=ignore_eos,  # type: ignore[arg-type]
                          end_token_id=end_token, clock=clock, max_connections=max(16, concurrency)),
            clock,
            None,
        )
    raise InvalidInput("--backend", backend, "use mock or openai")


def bench(
    backend: Annotated[Literal["mock", "openai"], typer.Option("--backend", help="mock (ground truth from --truth) or openai (any OpenAI-compatible endpoint).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Profile JSON to write.")],
    truth: Annotated[Optional[Path], typer.Option("--truth", help="mock: TOML of [[bucket]] (max_prompt_tokens, r_prefill, r_decode, l_fixed_ms) and jitter_cv.")] = None,
    real_time: Annotated[bool, typer.Option("--real-time", help="mock: sleep through each request instead of a virtual clock.")] = False,
    url: Annotated[Optional[str], typer.Option("--url", help="openai: base URL ending in /v1, e.g. https://api.groq.com/openai/v1.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="openai: model id to request.")] = None,
    api: Annotated[Literal["completions", "chat"], typer.Option("--api", help="openai: completions (exact prompt counts) or chat.")] = "completions",
    api_key_env: Annotated[str, typer.Option("--api-key-env", help="Environment variable holding the API key (never logged or written).")] = "OPENAI_API_KEY",
    ignore_eos: Annotated[bool, typer.Option("--ignore-eos", help="openai: send ignore_eos (vLLM, llama.cpp's C++ server) for exact output lengths.")] = False,
    end_token: Annotated[Optional[int], typer.Option("--end-token", help="openai: end-token id to forbid with logit_bias -100.")] = None,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="openai: per-read timeout, seconds.")] = 60.0,
    buckets: Annotated[Optional[str], typer.Option("--buckets", help="Prompt lengths (tokens), comma-separated; mock default: the truth's buckets, else 512,1024,2048,8192.")] = None,
    outputs: Annotated[str, typer.Option("--outputs", help="Output lengths (tokens), comma-separated.")] = "1,64,256",
    repeats: Annotated[int, typer.Option("--repeats", help="Samples per (bucket, output) shape.")] = 10,
    warmup: Annotated[int, typer.Option("--warmup", help="Warm-up requests, discarded.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the send order (and of the mock's jitter).")] = 0,
    samples: Annotated[Optional[Path], typer.Option("--samples", help="Raw samples JSONL (appended; a rerun resumes). Default: OUTPUT with .samples.jsonl.")] = None,
    artifact_id: Annotated[Optional[str], typer.Option("--artifact-id", help="Compiled artifact id recorded in the profile.")] = None,
    hardware: Annotated[Optional[str], typer.Option("--hardware", help="Hardware recorded in the profile, e.g. groqrack-gen1.")] = None,
    created: Annotated[Optional[str], typer.Option("--created", help="ISO 8601 timestamp to record (default now; fix it for byte-identical output).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as one JSON object, nothing else.")] = False,
    mode: Annotated[Literal["streamed", "non-streamed", "both"], typer.Option("--mode", help="Serving mode to measure: streamed, non-streamed or both (both also fits the per-token streaming overhead).")] = "streamed",
    concurrency: Annotated[int, typer.Option("--concurrency", help="Requests in flight: 1 = one at a time; N = closed loop with exactly N in flight (per-sequence rates at occupancy N; openai backend).")] = 1,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start the samples file over instead of resuming it (a resume must measure the same endpoint, model, hardware, artifact, mode and plan).")] = False,
) -> None:
    """Measure R_prefill per bucket, R_decode and L_fixed; write a profile (exit 3 if samples were given up).

    Example: lpuplan bench --backend openai --url http://127.0.0.1:8080/v1 --model llama-3.3-70b --output profile.json
    """
    from benchmarks.errors import BackendError, BackendHTTPError, BackendTimeout, BackendUnavailable
    from benchmarks.fit import FitImpossible
    from benchmarks.samples import SampleStore
    from benchmarks.sweep import MAX_CONCURRENCY, SweepPlan

    from benchmarks.run import measure_profile

    check_output_file("--output", output)
    if samples is not None:
        check_output_file("--samples", samples)
    check_created(created)
    if timeout_s <= 0 or timeout_s != timeout_s or timeout_s == float("inf"):
        raise InvalidInput("--timeout-s", timeout_s, "give a positive, finite number of seconds")
    modes = {"streamed": ("streamed",), "non-streamed": ("non-streamed",), "both": ("streamed", "non-streamed")}.get(mode)
    if modes is None:
        raise InvalidInput("--mode", mode, "use streamed, non-streamed or both")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInput("--concurrency", concurrency, f"give a whole number of requests in flight from 1 to {MAX_CONCURRENCY}")
    if concurrency > 1 and backend == "mock":
        raise InvalidInput("--concurrency", concurrency, "the mock backend measures one request at a time (it has no occupancy model); use --backend openai")
    instance, clock, truth_buckets = _make_backend(
        backend, truth, real_time, seed, url, model, api, api_key_env, ignore_eos, end_token, timeout_s, concurrency
    )
    bucket_list = parse_int_list("--buckets", buckets) if buckets else (truth_buckets or (512, 1024, 2048, 8192))
    if truth_buckets is not None and max(bucket_list) > max(truth_buckets):
        raise InvalidInput("--buckets", buckets, f"the truth's largest bucket is {max(truth_buckets)}; measure buckets up to it")
    try:
        plan = SweepPlan(bucket_list, parse_int_list("--outputs", outputs), repeats=repeats, warmup=warmup, seed=seed,
                         modes=modes, concurrency=concurrency)
    except InvalidInput as exc:
        raise InvalidInput(f"--{exc.field}", exc.value, exc.fix) from None
    redact = getattr(instance, "redact", None) or (lambda text: text)
    shown_url = redact.url(url) if url and hasattr(redact, "url") else url
    samples_path = samples if samples is not None else output.with_name(output.stem + ".samples.jsonl")
    store = SampleStore(samples_path)
    artifact = {"id": artifact_id or (f"mock:{truth.stem}" if backend == "mock" and truth else model), "model": model, "hardware": hardware}

    show = not as_json and sys.stderr.isatty()
    progress = Progress(
        TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=stderr, disable=not show
    )
    try:
        with progress:
            task = progress.add_task("sweep", total=None)
            result = measure_profile(
                instance, plan, store, artifact=artifact, clock=clock, created=created,
                samples_ref=os.path.relpath(samples_path.resolve(), output.resolve().parent),
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                fresh=fresh,
            )
    except FitImpossible as exc:
        dropped = getattr(exc, "dropped", {}) or {}
        stderr.print(f"error: cannot fit the profile: {redact(str(exc))}; no profile written, the samples are kept in {samples_path}", soft_wrap=True)
        raise typer.Exit(EXIT_CHECK_FAILED if dropped.get("dropped") else EXIT_INVALID) from None
    except BackendHTTPError as exc:
        stderr.print(f"error: the server refused the request ({redact(str(exc))}); check --url, --model and the API key in ${api_key_env}", soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    except (BackendUnavailable, BackendTimeout) as exc:
        if any(r.status in ("ok", "failed") for r in store.records()):
            stderr.print(f"error: the server stopped answering ({redact(str(exc))}); rerun the same command to resume", soft_wrap=True)
            raise typer.Exit(EXIT_UNEXPECTED) from None
        stderr.print(f"error: --url = {shown_url!r}: cannot reach it ({redact(str(exc))}); check the URL and that the server runs", soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    except BackendError as exc:
        stderr.print(f"error: backend failure ({type(exc).__name__}: {redact(str(exc))})", soft_wrap=True)
        raise typer.Exit(EXIT_UNEXPECTED) from None
    finally:
        close = getattr(instance, "close", None)
        if close is not None:
            close()
    write_json(output, result.profile, option="--output")
    if as_json:
        sys.stdout.write(dumps_json(result.profile))
    else:
        print_profile(result.profile, f"profile {output}")
        stdout.print(f"wrote {output}; samples in {samples_path}")
    if result.summary.gave_up:
        stderr.print(
            f"warning: {len(result.summary.gave_up)} samples failed every attempt ({', '.join(result.summary.gave_up[:5])}...);"
            " rerun the same command to resume", soft_wrap=True,
        )
        raise typer.Exit(EXIT_CHECK_FAILED)


@profile_app.command("show")
@guarded
def profile_show(
    file: Annotated[Path, typer.Argument(help="Profile JSON (lpuplan.profile/1).")],
    png: Annotated[Optional[Path], typer.Option("--png", help="Write a PNG of the fits with their samples.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as one JSON object, nothing else.")] = False,
) -> None:
    """Show a profile's fits, intervals and per-shape service CV; optionally plot them.

    Example: lpuplan profile show profile.json
    """
    if png is not None:
        check_output_file("--png", png)
    from dimensioning.profile import load_profile  # pydantic models: loaded by the command

    profile = load_profile(file, field="FILE")
    document = profile.to_json_dict()
    if png is not None:
        from benchmarks.plot import plot_profile

        samples_path = (document.get("samples") or {}).get("path")
        if samples_path and not Path(samples_path).is_absolute():
            samples_path = str(file.parent / samples_path)
        write_atomic(png, plot_profile(document, samples_path), option="--png")
    if as_json:
        sys.stdout.write(dumps_json(document))
        return
    print_profile(document, f"profile {file}")
    if png is not None:
        stdout.print(f"wrote {png}")


@profile_app.command("import")
@guarded
def profile_import(
    source: Annotated[Path, typer.Argument(help="File in the foreign format.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Profile JSON to write.")],
    from_format: Annotated[Literal["simfaasinfer", "blis"], typer.Option("--from", help="simfaasinfer (fitted_profile.json) or blis (beta/alpha coefficients, JSON or YAML).")],
    buckets: Annotated[Optional[str], typer.Option("--buckets", help="Bucket prompt lengths (tokens), comma-separated; simfaasinfer default: its seq_lens, blis: 512,1024,2048,8192.")] = None,
    decode_context: Annotated[Optional[int], typer.Option("--decode-context", help="simfaasinfer: KV-cache length (tokens) at which R_decode is read (default: the largest measured).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="blis: model id of the entry to take from a models list.")] = None,
    gpu: Annotated[Optional[str], typer.Option("--gpu", help="blis: GPU of the entry (e.g. H100).")] = None,
    tp: Annotated[Optional[int], typer.Option("--tp", help="blis: tensor_parallelism of the entry.")] = None,
    l_fixed_ms: Annotated[Optional[float], typer.Option("--l-fixed-ms", help="Fixed overhead per request, ms, where the format has none.")] = None,
    artifact_id: Annotated[Optional[str], typer.Option("--artifact-id", help="Artifact id recorded in the profile.")] = None,
    created: Annotated[Optional[str], typer.Option("--created", help="ISO 8601 timestamp to record (default now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as one JSON object, nothing else.")] = False,
) -> None:
    """Convert a SimFaaSInfer fitted_profile.json or BLIS coefficients into a profile (mapping recorded in it).

    Example: lpuplan profile import fitted_profile.json --from simfaasinfer --output profile.json
    """
    from benchmarks.importers import import_blis, import_simfaasinfer

    check_output_file("--output", output)
    check_created(created)
    if l_fixed_ms is not None and l_fixed_ms <= 0:
        raise InvalidInput("--l-fixed-ms", l_fixed_ms, "give a positive overhead in ms")
    bucket_list = parse_int_list("--buckets", buckets) if buckets else None
    if from_format == "simfaasinfer":
        document = import_simfaasinfer(
            source, buckets=bucket_list, decode_context=decode_context, l_fixed_ms=l_fixed_ms, artifact_id=artifact_id, created=created
        )
    elif from_format == "blis":
        document = import_blis(
            source, buckets=bucket_list or (512, 1024, 2048, 8192), model=model, gpu=gpu, tp=tp, l_fixed_ms=l_fixed_ms,
            artifact_id=artifact_id, created=created,
        )
    else:
        raise InvalidInput("--from", from_format, "use simfaasinfer or blis")
    write_json(output, document, option="--output")
    if as_json:
        sys.stdout.write(dumps_json(document))
        return
    print_profile(document, f"profile {output} (imported from {from_format})")
    for key, how in document.get("mapping", {}).items():
        stdout.print(f"  {key}: {how}", soft_wrap=True)
    stdout.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add ``bench`` and the ``profile`` sub-app to ``app``."""
    app.command("bench")(guarded(bench))
    app.add_typer(profile_app, name="profile")
