"""``lpuplan fidelity URL``: predicted vs measured latency on a real server.

Thin over :func:`benchmarks.validate.run_fidelity`: pools from a project
(each bucket's shape at its edge and output cap, its traffic share, the
plan's replicas x slots) or one ``--shape`` with ``--servers``; render the
comparison; exit 3 when a prediction misses (docs/validate.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stdout
from lpuplan.output import check_output_file, dumps_json, write_json

__all__ = ["register", "project_pools", "parse_rhos"]


def parse_rhos(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InvalidInput("--rho", text, "write utilisations comma-separated, e.g. 0.5,0.7,0.9") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise InvalidInput("--rho", text, "every utilisation must lie strictly between 0 and 1")
    return values


def project_pools(path: Path, servers: dict[str, int]) -> list[Any]:
    """One pool design per bucket with traffic: edge x output cap, share, replicas x slots from the plan."""
    from benchmarks.validate import PoolDesign
    from lpuplan.plan import size_project
    from lpuplan.project import load_project

    project = load_project(path)
    _, split, dedicated, _ = size_project(project, shared_pool=False)  # fidelity predicts the dedicated pools only
    names = [b.label for b in project.buckets]
    unknown = sorted(set(servers) - set(names))
    if unknown:
        raise InvalidInput("--servers", unknown, f"name buckets of the project: {', '.join(names)}")
    pools = []
    for bucket, traffic, sizing in zip(project.buckets, split.buckets, dedicated):
        if traffic.share <= 0:
            continue
        count = servers.get(bucket.label, max(sizing.replicas, 1) * bucket.slots)
        pools.append(PoolDesign(bucket.label, bucket.max_prompt_tokens, bucket.max_output_tokens, traffic.share, count))
    if not pools:
        raise InvalidInput("--project", str(path), "no bucket carries traffic")
    return pools


def _ms(x: float) -> str:
    return f"{x * 1e3:,.1f}"


def render(report: Any) -> None:
    comparisons = [(r, p, c) for r in report.results for p in r.pools for c in p.comparisons]
    misses = [c for _, _, c in comparisons if c.verdict == "miss"]
    undecided = [c for _, _, c in comparisons if c.verdict == "undecided"]
    untrusted = [c for _, _, c in comparisons if c.verdict == "untrusted"]
    if misses or untrusted:
        stdout.print(f"FAIL: {len(misses)} of {len(comparisons)} predictions miss the measured latency"
                     f" beyond the tolerance {report.tolerance:.0%}; {len(untrusted)} untrusted (the load"
                     " generator fell behind its schedule)")
    else:
        stdout.print(f"PASS: {len(comparisons) - len(undecided)} of {len(comparisons)} predictions consistent"
                     + (f", {len(undecided)} undecided (run-to-run spread too wide: run longer)" if undecided else ""))
    stdout.print(f"{report.url} ({report.mode}); {report.runs} run(s) x {report.requests_per_run} requests per"
                 " utilisation; times in ms")
    rt = report.round_trip
    stdout.print(f"  client round trip {_ms(rt.value)} (95% CI {_ms(rt.ci95[0])}-{_ms(rt.ci95[1])})")
    for name, iso in report.isolated.items():
        server = f", server {_ms(iso.server.value)}" if iso.server is not None else ""
        first = next(p.prediction for p in report.results[0].pools if p.name == name)
        slot = "" if first.model == "M/G/1" else f"; D = median - round trip = {_ms(first.service_s)}"
        stdout.print(f"  isolated {name} ({iso.prompt_tokens}:{iso.output_tokens}): e2el mean {_ms(iso.e2el.value)}"
                     f" (95% CI {_ms(iso.e2el.ci95[0])}-{_ms(iso.e2el.ci95[1])}, CV {iso.e2el.cv:.3f}),"
                     f" median {_ms(iso.e2el.median)}{server}{slot}")
    for r in report.results:
        stdout.print(f"rho {r.rho:g}: {r.arrival_rate:.2f} req/s; shed {r.shed}, errors {r.errors},"
                     f" send lag p99 {r.send_lag_p99_ms:.2f} ms" + (" FELL BEHIND" if r.fell_behind else ""))
        for p in r.pools:
            pred = p.prediction
            if pred.model == "M/G/1":
                stdout.print(f"  {p.name}: M/G/1, service measured just before: mean {_ms(pred.service_s)} (CV"
                             f" {pred.service_cv:.2f}, {pred.service_samples} samples), + {_ms(pred.overhead_s)} off the"
                             " server")
            for c in p.comparisons:
                m = c.measured
                spread = m.run_spread_s
                label = f"{p.name} p{c.quantile * 100:g}"
                stdout.print(f"  {label}: predicted {_ms(c.predicted_s)}, run range {_ms(c.run_range_s[0])}-"
                             f"{_ms(c.run_range_s[1])} -> {c.verdict} (error {c.relative_error:+.1%})")
                stdout.print(f"  {'':{len(label)}}  measured {_ms(m.value_s)}, iid 95% CI {_ms(m.iid_ci95_s[0])}-"
                             f"{_ms(m.iid_ci95_s[1])}, runs {_ms(spread[0])}-{_ms(spread[1])}")
            for c in p.given_service_comparisons:
                stdout.print(f"  {p.name} p{c.quantile * 100:g} given the service under load: predicted"
                             f" {_ms(c.predicted_s)}, run range {_ms(c.run_range_s[0])}-{_ms(c.run_range_s[1])} ->"
                             f" {c.verdict} (error {c.relative_error:+.1%})")
        for line in r.residual:
            stdout.print(f"  - {line}", soft_wrap=True)
    for note in report.notes:
        stdout.print(f"note: {note}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def fidelity(
        url: Annotated[str, typer.Argument(help="OpenAI-compatible base URL ending in /v1.")],
        project: Annotated[Optional[Path], typer.Option("--project", help="Pools from this project: bucket shapes, traffic shares, the plan's replicas x slots.")] = None,
        shape: Annotated[Optional[str], typer.Option("--shape", help="PROMPT:OUTPUT tokens of a single pool (instead of --project).")] = None,
        servers: Annotated[Optional[list[str]], typer.Option("--servers", help="Sequences served at once: N for --shape, BUCKET=N with --project (default: the plan's replicas x slots).")] = None,
        rho: Annotated[str, typer.Option("--rho", help="Utilisations of the busiest pool, comma-separated.")] = "0.5,0.7,0.9",
        requests: Annotated[int, typer.Option("--requests", help="Requests per run.")] = 2000,
        runs: Annotated[int, typer.Option("--runs", help="Independent runs per utilisation (their spread is reported).")] = 2,
        tolerance: Annotated[float, typer.Option("--tolerance", help="Relative widening of the model's run range before a miss is called.")] = 0.10,
        model: Annotated[str, typer.Option("--model", help="Model id to request.")] = "default",
        api: Annotated[Literal["completions", "chat"], typer.Option("--api", help="completions or chat.")] = "completions",
        stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Serving mode of both the isolated sweep and the load.")] = False,
        tokenizer: Annotated[Literal["server", "words", "none"], typer.Option("--tokenizer", help="server, words (the emulator's) or none.")] = "server",
        end_token: Annotated[Optional[int], typer.Option("--end-token", help="End-token id to forbid (logit_bias -100) for exact output lengths.")] = None,
        bench_repeats: Annotated[int, typer.Option("--bench-repeats", help="Isolated samples per shape.")] = 10,
        replications: Annotated[int, typer.Option("--replications", help="Simulated runs for the model's run-to-run range.")] = 200,
        timeout_s: Annotated[float, typer.Option("--timeout-s", help="Per-request read timeout, seconds.")] = 60.0,
        max_send_lag_ms: Annotated[float, typer.Option("--max-send-lag-ms", help="Flag runs whose send lag p99 exceeds this.")] = 2.0,
        seed: Annotated[int, typer.Option("--seed", help="Seed of arrivals, shapes and simulations.")] = 0,
        time_scale: Annotated[float, typer.Option("--time-scale", help="Server timings are in seconds this many times longer than wall (lpuplan emulate --time-scale).")] = 1.0,
        out: Annotated[Optional[Path], typer.Option("--out", help="Write the report as JSON to this file.")] = None,
        write_under_load: Annotated[Optional[Path], typer.Option("--write-under-load", help="Write the measured service-time inflation (lpuplan.under_load/1) to this file; a bucket reads it with under_load = \"FILE\" (docs/validate.md).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object, nothing else.")] = False,
    ) -> None:
        """Bench URL, predict its latency at each utilisation, load it, compare (exit 3 on a miss).

        Example: lpuplan fidelity http://127.0.0.1:8080/v1 --project lpuplan.toml --rho 0.5,0.7,0.9
        """
        from benchmarks.validate import PoolDesign, run_fidelity
        from lpuplan.cli_emulate import parse_overrides

        if out is not None:
            check_output_file("--out", out)  # before any request is sent
        if write_under_load is not None:
            check_output_file("--write-under-load", write_under_load)
        if (project is None) == (shape is None):
            raise InvalidInput("--project/--shape", None, "give exactly one: a project file or one PROMPT:OUTPUT shape")
        if not time_scale > 0:
            raise InvalidInput("--time-scale", time_scale, "give a factor > 0")
        if api not in ("completions", "chat"):
            raise InvalidInput("--api", api, "use completions or chat")
        if project is not None:
            pools = project_pools(project, parse_overrides("--servers", servers or []))  # type: ignore[arg-type]
        else:
            from benchmarks.load import parse_shape

            parsed = parse_shape(shape or "")
            if servers and len(servers) != 1:
                raise InvalidInput("--servers", servers, "give one number with --shape")
            try:
                count = int(servers[0]) if servers else 1
            except ValueError:
                raise InvalidInput("--servers", servers, "give a whole number >= 1") from None
            pools = [PoolDesign(parsed.name, parsed.prompt_tokens, parsed.output_tokens, 1.0, count)]
        report = run_fidelity(
            url, pools, rhos=parse_rhos(rho), requests=requests, runs=runs, tolerance=tolerance, model=model, api=api,
            stream=stream, tokenizer=tokenizer, end_token_id=end_token, bench_repeats=bench_repeats,
            replications=replications, timeout_s=timeout_s, seed=seed, max_send_lag_ms=max_send_lag_ms,
            server_time_scale=time_scale,
        )
        data = report.to_dict()
        if out is not None:
            write_json(out, data, option="--out")
        if as_json:
            stdout.print(dumps_json(data), end="", soft_wrap=True, markup=False)
        else:
            render(report)
            if out is not None:
                stdout.print(f"wrote {out}")
        if write_under_load is not None:
            from benchmarks.validate import under_load_document

            document = under_load_document(report)
            write_json(write_under_load, document, option="--write-under-load")
            if not as_json:
                for name, pool in document["pools"].items():
                    f = pool["service_inflation"]
                    stdout.print(f"wrote {write_under_load}: {name} service_inflation {f['value']:.3f} (95% CI"
                                 f" {f['ci95'][0]:.3f}-{f['ci95'][1]:.3f}, rho {pool['rho']:g}, {pool['estimator']})",
                                 soft_wrap=True)
        if not report.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)
