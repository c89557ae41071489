"""``lpuplan load URL``: open-loop load on an OpenAI-compatible server.

Thin over :mod:`benchmarks.load`: parse, build the schedule(s) and the exact
prompts, run each rate, write per-request JSONL and the summaries (JSON and
CSV), render. Exit 3 when the generator fell behind its schedule (send lag
p99 above ``--max-send-lag-ms``): such a run measures the generator, not
the server.
"""

from __future__ import annotations

import contextlib

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stdout
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic, write_json

__all__ = ["register", "parse_rates", "project_shapes", "jsonl_text"]


def parse_rates(rate: float | None, rates: str | None, sweep: str | None) -> list[float]:
    """One of ``--rate R``, ``--rates R1,R2``, ``--sweep START:STOP:STEP`` (requests/s)."""
    given = [x is not None for x in (rate, rates, sweep)]
    if sum(given) > 1:
        raise InvalidInput("--rate/--rates/--sweep", None, "give only one of them")
    if rate is not None:
        values = [rate]
    elif rates is not None:
        try:
            values = [float(x) for x in rates.split(",") if x.strip()]
        except ValueError:
            raise InvalidInput("--rates", rates, "write requests/s comma-separated, e.g. 5,10,20") from None
    elif sweep is not None:
        try:
            start, stop, step = (float(x) for x in sweep.split(":"))
        except ValueError:
            raise InvalidInput("--sweep", sweep, "write START:STOP:STEP in requests/s, e.g. 10:50:10") from None
        if step <= 0 or stop < start:
            raise InvalidInput("--sweep", sweep, "STEP must be > 0 and STOP >= START")
        count = int(round((stop - start) / step)) + 1
        values = [start + i * step for i in range(count) if start + i * step <= stop * (1 + 1e-12)]
    else:
        values = []
    for v in values:
        if not v > 0:
            raise InvalidInput("--rate", v, "every rate must be > 0 requests/s")
    return values


def project_shapes(path: Path) -> tuple[list[Any], dict[str, float]]:
    """Shapes from a project: each bucket at its edge and output cap, by its traffic share; SLOs per shape (ms)."""
    from benchmarks.load import Shape
    from dimensioning.traffic import split_traffic
    from lpuplan.project import load_project

    project = load_project(path)
    split = split_traffic(project.workload, project.buckets)
    shapes, slos = [], {}
    for bucket, traffic in zip(project.buckets, split.buckets):
        if traffic.share <= 0:
            continue
        shapes.append(Shape(bucket.label, bucket.max_prompt_tokens, bucket.max_output_tokens, traffic.share))
        slos[bucket.label] = project.bucket_slo_ms(bucket)
    if not shapes:
        raise InvalidInput("--project", str(path), "no bucket carries traffic")
    return shapes, slos


def jsonl_text(run: Any) -> str:
    """The run header line, then one line per request."""
    lines = [json.dumps(run.header(), sort_keys=True)]
    lines += [json.dumps(r.to_json_dict(), sort_keys=True) for r in run.records]
    return "\n".join(lines) + "\n"


def _render(summary: dict[str, Any]) -> None:
    lag = summary["send_lag_ms"]
    verdict = "GENERATOR FELL BEHIND (not trusted)" if summary["fell_behind"] else "on schedule"
    stdout.print(f"rate {summary['rate']:g} req/s ({summary['arrivals']}): {verdict};"
                 f" send lag p50 {lag['p50']:.2f} / p99 {lag['p99']:.2f} / max {lag['max']:.2f} ms")
    stdout.print(f"  sent {summary['sent']}, completed {summary['completed']}, shed {summary['shed']},"
                 f" errors {summary['errors']} {summary['failures'] or ''}")
    tput = summary["request_throughput"]
    good = summary["goodput"]
    stdout.print(f"  throughput {tput or 0:.2f} req/s, {summary['output_throughput'] or 0:.0f} output tok/s;"
                 f" goodput {good or 0:.2f} req/s")
    from dimensioning.keys import PERCENTILES, percentile_key, percentile_label

    stats = [("mean", "mean")] + [(percentile_key(q), percentile_label(q)) for q in PERCENTILES]
    stdout.print(f"  {'(ms)':<8}" + "".join(f"{label:>10}" for _, label in stats))
    for metric in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
        d = summary[metric]
        cells = "".join(f"{d[k]:>10.2f}" if d[k] is not None else f"{'-':>10}" for k, _ in stats)
        stdout.print(f"  {metric[:-3]:<8}{cells}")


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def load(
        url: Annotated[str, typer.Argument(help="OpenAI-compatible base URL ending in /v1.")],
        project: Annotated[Optional[Path], typer.Option("--project", help="Take shapes (bucket edge x output cap, by traffic share) and e2el SLOs from this project.")] = None,
        shape: Annotated[Optional[list[str]], typer.Option("--shape", help="PROMPT:OUTPUT[:SHARE] tokens (repeatable), instead of --project.")] = None,
        rate: Annotated[Optional[float], typer.Option("--rate", help="Requests/s.")] = None,
        rates: Annotated[Optional[str], typer.Option("--rates", help="Several rates, comma-separated; one run each.")] = None,
        sweep: Annotated[Optional[str], typer.Option("--sweep", help="START:STOP:STEP requests/s; one run each.")] = None,
        arrivals: Annotated[str, typer.Option("--arrivals", help="poisson, gamma, constant or trace.")] = "poisson",
        burstiness: Annotated[Optional[float], typer.Option("--burstiness", help="gamma: shape of the gaps (vLLM's --burstiness; 1 = Poisson, < 1 burstier).")] = None,
        scv: Annotated[Optional[float], typer.Option("--scv", help="gamma: squared coefficient of variation of the gaps (= 1/burstiness).")] = None,
        trace: Annotated[Optional[Path], typer.Option("--trace", help="trace: CSV with timestamp,prompt_tokens,output_tokens.")] = None,
        requests: Annotated[Optional[int], typer.Option("--requests", help="Requests per run.")] = None,
        duration_s: Annotated[Optional[float], typer.Option("--duration-s", help="Seconds of schedule per run (instead of --requests).")] = None,
        model: Annotated[str, typer.Option("--model", help="Model id to request.")] = "default",
        api: Annotated[Literal["completions", "chat"], typer.Option("--api", help="completions or chat.")] = "completions",
        stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Stream (SSE) or take one JSON answer.")] = True,
        tokenizer: Annotated[Literal["server", "words", "none"], typer.Option("--tokenizer", help="server (its /tokenize), words (the emulator's) or none (approximate).")] = "server",
        timeout_s: Annotated[float, typer.Option("--timeout-s", help="Per-request read timeout, seconds.")] = 60.0,
        time_scale: Annotated[float, typer.Option("--time-scale", help="The server runs this many times faster (lpuplan emulate --time-scale): rates and times are in its emulated seconds.")] = 1.0,
        slo_e2el_ms: Annotated[Optional[float], typer.Option("--slo-e2el-ms", help="Goodput: e2el objective (default: the project's per bucket).")] = None,
        slo_ttft_ms: Annotated[Optional[float], typer.Option("--slo-ttft-ms", help="Goodput: TTFT objective.")] = None,
        slo_tpot_ms: Annotated[Optional[float], typer.Option("--slo-tpot-ms", help="Goodput: TPOT objective.")] = None,
        max_send_lag_ms: Annotated[float, typer.Option("--max-send-lag-ms", help="Flag a run whose send lag p99 exceeds this (wall ms).")] = 2.0,
        spin_ms: Annotated[float, typer.Option("--spin-ms", help="Wake this early and yield until each send (sharper sends, more CPU).")] = 0.0,
        client: Annotated[Literal["auto", "h1", "aiohttp", "httpx"], typer.Option("--client", help="auto (h1 when httptools is installed, else aiohttp), h1 (least CPU per request), aiohttp or httpx.")] = "auto",
        event_loop: Annotated[Literal["auto", "uvloop", "asyncio"], typer.Option("--event-loop", help="auto (uvloop when installed), uvloop or asyncio.")] = "auto",
        seed: Annotated[int, typer.Option("--seed", help="Seed of arrivals and shape draws (run i uses seed + i).")] = 0,
        out: Annotated[Optional[Path], typer.Option("--out", help="Folder for requests-<rate>.jsonl, summary.json and summary.csv.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as one JSON object, nothing else.")] = False,
    ) -> None:
        """Put open-loop load on URL and summarise it (see docs/validate.md).

        Example: lpuplan load http://127.0.0.1:8080/v1 --rate 20 --duration 60 --json
        """
        from benchmarks.load import build_prompts, build_schedule, parse_shape, run_load, summarize, summary_csv

        if out is not None:
            check_output_set("--out", out)  # before any load is sent
        if project is not None and shape:
            raise InvalidInput("--shape", shape, "give --project or --shape, not both")
        if api not in ("completions", "chat"):
            raise InvalidInput("--api", api, "use completions or chat")
        if not time_scale > 0:
            raise InvalidInput("--time-scale", time_scale, "give a factor > 0")
        if not timeout_s > 0:
            raise InvalidInput("--timeout-s", timeout_s, "give a positive number of seconds")
        if burstiness is not None and scv is not None:
            raise InvalidInput("--burstiness/--scv", None, "give one of them (burstiness = 1/scv)")
        if (burstiness is not None or scv is not None) and arrivals != "gamma":
            raise InvalidInput("--arrivals", arrivals, "--burstiness and --scv apply to --arrivals gamma")
        shape_b = burstiness if burstiness is not None else (1.0 / scv if scv else 1.0)
        slos: dict[str, float] | float | None = slo_e2el_ms
        if project is not None:
            shapes, project_slos = project_shapes(project)
            if slo_e2el_ms is None:
                slos = project_slos
        elif shape:
            shapes = [parse_shape(s) for s in shape]
        elif arrivals != "trace":
            raise InvalidInput("--shape/--project", None, "give request shapes: --project FILE or --shape PROMPT:OUTPUT")
        else:
            shapes = []
        rate_list = parse_rates(rate, rates, sweep)
        if arrivals == "trace":
            if rate_list:
                raise InvalidInput("--rate", rate_list, "trace replay keeps the trace's own times: drop --rate")
            rate_list = [0.0]
        elif not rate_list:
            raise InvalidInput("--rate", None, "give --rate, --rates or --sweep")
        summaries = []
        files: list[str] = []
        with contextlib.ExitStack() as stack:  # the run's files arrive as one set (lpuplan.output)
            staging = stack.enter_context(output_set(out, option="--out")) if out is not None else None
            for i, r in enumerate(rate_list):
                schedule = build_schedule(shapes, r if arrivals != "trace" else None, arrivals=arrivals, burstiness=shape_b,
                                          count=requests, duration_s=duration_s, trace=trace, seed=seed + i)
                prompts = build_prompts(sorted(set(schedule.prompt_tokens.tolist())), tokenizer, url, model,
                                        timeout_s=timeout_s, seed=seed + i, api=api)
                result = run_load(url, schedule, prompts, model=model, api=api, stream=stream, timeout_s=timeout_s,
                                  time_scale=time_scale, spin_s=spin_ms / 1e3, client=client, event_loop=event_loop)
                summary = summarize(result, slo_e2el_ms=slos, slo_ttft_ms=slo_ttft_ms, slo_tpot_ms=slo_tpot_ms,
                                    max_send_lag_ms=max_send_lag_ms)
                summaries.append(summary)
                if out is not None and staging is not None:
                    name = f"requests-{r:g}.jsonl" if arrivals != "trace" else "requests-trace.jsonl"
                    write_atomic(staging / name, jsonl_text(result), option="--out")
                    files.append(str(out / name))
                if not as_json:
                    _render(summary)
            if out is not None and staging is not None:
                write_json(staging / "summary.json", {"runs": summaries}, option="--out")
                write_atomic(staging / "summary.csv", summary_csv(summaries), option="--out")
                files += [str(out / "summary.json"), str(out / "summary.csv")]
        if as_json:
            stdout.print(dumps_json({"runs": summaries, "files": files}), end="", soft_wrap=True, markup=False)
        elif files:
            stdout.print("wrote " + ", ".join(files))
        if any(s["fell_behind"] for s in summaries):
            raise typer.Exit(EXIT_CHECK_FAILED)
