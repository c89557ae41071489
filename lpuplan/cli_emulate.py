"""``lpuplan emulate``: serve a project's pools over HTTP as an LPU would.

Thin over :class:`benchmarks.emulator.Emulator`: size the project (the plan's
replicas and Queue_cap per bucket), apply overrides, serve until interrupted
or for ``--duration-s``. docs/validate.md documents the control API and the
metric names.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

import typer

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import guarded, stderr, stdout
from lpuplan.output import dumps_json

if TYPE_CHECKING:
    from lpuplan.project import Project

__all__ = ["register", "emulator_config", "parse_overrides"]


def parse_overrides(option: str, values: list[str], allow_none: bool = False) -> dict[str, int | None]:
    """``NAME=N`` pairs (``NAME=none`` where allowed) into a mapping."""
    out: dict[str, int | None] = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(option, text, "write BUCKET=N (a bucket name of the project), e.g. p512=4")
        value = value.strip().lower()
        if allow_none and value == "none":
            out[name.strip()] = None
            continue
        try:
            number = int(value)
        except ValueError:
            raise InvalidInput(option, text, "N must be a whole number" + (" or none" if allow_none else "")) from None
        if number < (0 if allow_none else 1):
            raise InvalidInput(option, text, f"N must be >= {0 if allow_none else 1}")
        out[name.strip()] = number
    return out


def emulator_config(project: Project, *, replicas: dict[str, int] | None = None, slots: dict[str, int] | None = None,
                    queue_caps: dict[str, int | None] | None = None, routing: str = "central", time_scale: float = 1.0,
                    failover_time_s: float = 0.0, faults: tuple = (), model: str = "lpu-emulator",
                    token_coalesce_ms: float = 0.0):
    """The emulator's configuration for a project: the plan's pools, with overrides."""
    from benchmarks.emulator import EmulatorConfig
    from benchmarks.emulator.from_sizing import pools_from_sizing
    from lpuplan.plan import size_project

    _, _, dedicated, _ = size_project(project, shared_pool=False)  # the emulator serves the dedicated pools only
    pools = pools_from_sizing(project.buckets, dedicated, replicas, slots, queue_caps,
                              per_replica_queue=routing != "central")
    return EmulatorConfig(pools=pools, routing=routing, time_scale=time_scale,  # type: ignore[arg-type]
                          failover_time_s=failover_time_s, faults=faults, model=model,
                          token_coalesce_s=token_coalesce_ms / 1e3)


def _describe(config, url: str) -> dict:  # type: ignore[no-untyped-def]
    return {
        "url": url,
        "metrics": url[: -len("/v1")] + "/metrics",
        "control": url[: -len("/v1")] + "/control/state",
        "routing": config.routing,
        "time_scale": config.time_scale,
        "failover_time_s": config.failover_time_s,
        "pools": [
            {"name": p.name, "max_prompt_tokens": p.max_prompt_tokens, "max_output_tokens": p.max_output_tokens,
             "replicas": p.replicas, "slots": p.slots, "queue_cap": p.queue_cap,
             "service_bucket_ms": p.service_bucket_s * 1e3}
            for p in config.pools
        ],
        "faults": [{"action": f.action, "pool": f.pool, "replica": f.replica, "at_s": f.at_s, "duration_s": f.duration_s}
                   for f in config.faults],
    }


def register(app: typer.Typer) -> None:
    @app.command()
    @guarded
    def emulate(
        file: Annotated[Path, typer.Argument(help="Project file (TOML): its buckets become pools, sized as the plan sizes them.")],
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one, printed).")] = 8000,
        replicas: Annotated[Optional[list[str]], typer.Option("--replicas", help="BUCKET=N replicas (repeatable); default: the plan's.")] = None,
        slots: Annotated[Optional[list[str]], typer.Option("--slots", help="BUCKET=N slots per replica (repeatable); default: the bucket's.")] = None,
        queue_cap: Annotated[Optional[list[str]], typer.Option("--queue-cap", help="BUCKET=N waiting requests (or none: unbounded); default: the plan's SLO-safe Queue_cap.")] = None,
        routing: Annotated[Literal["central", "round_robin", "least_loaded"], typer.Option("--routing", help="central (one FCFS queue per pool), round_robin or least_loaded (a queue per replica).")] = "central",
        time_scale: Annotated[float, typer.Option("--time-scale", help="Run this many times faster than the LPU; reported times stay emulated seconds.")] = 1.0,
        failover_time_s: Annotated[float, typer.Option("--failover-time-s", help="Emulated seconds the router keeps sending to a killed replica.")] = 0.0,
        fault: Annotated[Optional[list[str]], typer.Option("--fault", help="ACTION:BUCKET:REPLICA@AT_S[+DURATION_S], e.g. kill:p512:0@60+30 (repeatable).")] = None,
        model: Annotated[str, typer.Option("--model", help="Model id the server answers with.")] = "lpu-emulator",
        token_coalesce_ms: Annotated[float, typer.Option("--token-coalesce-ms", help="Stream tokens due within this many emulated ms in one chunk.")] = 0.0,
        duration_s: Annotated[Optional[float], typer.Option("--duration-s", help="Stop after this many wall seconds (default: until Ctrl-C).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the serving configuration as one JSON object (then serve).")] = False,
    ) -> None:
        """Serve FILE's pools as an OpenAI-compatible LPU emulator (see docs/validate.md).

        Example: lpuplan emulate lpuplan.toml --port 8080 --time-scale 10
        """
        from benchmarks.emulator import Emulator, parse_fault

        from lpuplan.project import load_project  # pydantic models: loaded by the command

        project = load_project(file)
        if port < 0 or port > 65535:
            raise InvalidInput("--port", port, "give a port 0..65535")
        if duration_s is not None and duration_s <= 0:
            raise InvalidInput("--duration-s", duration_s, "give a positive number of seconds")
        config = emulator_config(
            project,
            replicas=parse_overrides("--replicas", replicas or []),  # type: ignore[arg-type]
            slots=parse_overrides("--slots", slots or []),  # type: ignore[arg-type]
            queue_caps=parse_overrides("--queue-cap", queue_cap or [], allow_none=True),
            routing=routing, time_scale=time_scale, failover_time_s=failover_time_s,
            faults=tuple(parse_fault(f) for f in fault or []), model=model, token_coalesce_ms=token_coalesce_ms,
        )
        emulator = Emulator(config, host=host, port=port)
        try:
            emulator.start()
        except OSError as exc:
            raise InvalidInput("--port", port, f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another port or 0") from None
        description = _describe(config, emulator.url)
        if as_json:
            stdout.print(dumps_json(description), end="", soft_wrap=True, markup=False)
        else:
            stdout.print(f"serving {project.name!r} at {emulator.url}  (metrics {description['metrics']})")
            for pool in description["pools"]:
                cap = "unbounded" if pool["queue_cap"] is None else pool["queue_cap"]
                stdout.print(f"  {pool['name']}: {pool['replicas']} replicas x {pool['slots']} slots, queue cap {cap},"
                             f" S_bucket {pool['service_bucket_ms']:.1f} ms")
            stdout.print(f"routing {config.routing}, time scale {config.time_scale:g}; Ctrl-C stops")
        try:
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2 if deadline is None else min(0.2, max(deadline - time.monotonic(), 0.0)))
        except KeyboardInterrupt:
            stderr.print("stopping")
        finally:
            emulator.stop()
