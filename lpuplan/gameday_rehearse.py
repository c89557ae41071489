"""Rehearse a game day on real sockets: emulator, open-loop load, the failure at t0, verify.

:func:`rehearse` predicts one domain, starts ``lpuplan emulate`` in its own process (so
the sender and the server never share an interpreter) with the plan's pools (the
final replica counts, the per-replica SLO-safe queue caps, round-robin
routing and the prediction's failover time), optionally a real Prometheus
server on loopback scraping its ``/metrics``, sends the planned traffic open
loop (Poisson arrivals per pool from the seed, each request sent at its
scheduled time whatever the answers), kills the domain's replicas at t0 and
brings them back after ``restore_after_s``, then verifies what the client
recorded (and what Prometheus recorded) against the prediction.

Time-scaled: the emulator runs ``time_scale`` emulated seconds per wall
second; the prediction's timeline is in emulated seconds. Every latency the
client records is converted (wall x time_scale).

The sender is deliberately small: one asyncio loop, aiohttp, non-streaming
completions (a prompt that lands in the pool's bucket, the output at its
cap, so every request needs exactly S_bucket). ``lpuplan load`` JSONL from
a separate run can be verified with ``lpuplan gameday verify --observed``.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from dimensioning.errors import InvalidInput
from facility.gameday.document import prediction_document
from facility.gameday.metrics import MetricMap
from facility.gameday.model import GameDaySettings
from facility.gameday.verify import ERROR, OK, SHED, Observed, Verification, observed_from_requests, verify_domain
from lpuplan.plan_gameday import predict_plan

if TYPE_CHECKING:
    from lpuplan.plan import Plan

__all__ = ["Rehearsal", "rehearse", "prometheus_server", "free_port"]

_ROUTING = {"round_robin": "round_robin", "central": "central"}


@dataclass(frozen=True)
class Rehearsal:
    """What a rehearsal produced: the prediction, the observations and their verdicts."""

    document: dict[str, Any]
    client: dict[str, Observed]
    client_verdict: Verification
    prometheus: dict[str, Observed] | None
    prometheus_verdict: Verification | None
    t0_unix: float
    time_scale: float
    requests: int
    send_lag_p99_s: float

    @property
    def passed(self) -> bool:
        """The server's metrics (Prometheus) decide when scraped; else the client's records.

        The client's wall-clock latencies carry its own scheduling delay times
        the time scale (on a loaded machine, tens of milliseconds become
        tenths of emulated seconds), so they are the weaker witness.
        """
        if self.prometheus_verdict is not None:
            return self.prometheus_verdict.passed
        return self.client_verdict.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "t0_unix": self.t0_unix,
            "time_scale": self.time_scale,
            "requests": self.requests,
            "send_lag_p99_s": self.send_lag_p99_s,
            "client": self.client_verdict.to_dict(),
            "prometheus": None if self.prometheus_verdict is None else self.prometheus_verdict.to_dict(),
        }


def free_port() -> int:
    """A free TCP port on loopback (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(process: "subprocess.Popen[bytes]", ready_url: str, what: str, timeout_s: float,
                   log_tail: Callable[[], str]) -> None:
    """Poll ``ready_url`` until it answers 200; raise with the log's tail if the process dies or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): {log_tail()}")
        try:
            if httpx.get(ready_url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not up after {timeout_s:g} s")
        time.sleep(0.2)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """Terminate, then kill if it has not ended within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def prometheus_server(binary: str, target: str, scrape_interval_s: float, *, timeout_s: float = 30.0) -> Iterator[str]:
    """A Prometheus server on loopback scraping ``target`` (host:port); yields its base URL."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="lpuplan-prometheus-"))
    interval = f"{max(int(round(scrape_interval_s * 1000)), 100)}ms"
    (folder / "prometheus.yml").write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: lpu-emulator\n"
        f"    scrape_interval: {interval}\n"
        f"    scrape_timeout: {interval}\n"
        f"    static_configs:\n      - targets: ['{target}']\n")
    log = open(folder / "prometheus.log", "wb")
    process = subprocess.Popen(
        [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, f"{url}/-/ready", "prometheus", timeout_s,
                       lambda: (folder / "prometheus.log").read_text()[-2000:])
        yield url
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _schedule(pools: dict[str, float], start_s: float, end_s: float, seed: int) -> list[tuple[float, str]]:
    """Poisson arrivals per pool over [start_s, end_s) (emulated s), merged in time order."""
    out: list[tuple[float, str]] = []
    streams = np.random.SeedSequence(seed).spawn(len(pools))
    for (name, rate), ss in zip(sorted(pools.items()), streams):
        if rate <= 0:
            continue
        rng = np.random.default_rng(ss)
        n = int(rate * (end_s - start_s) + 10 * math.sqrt(rate * (end_s - start_s)) + 10)
        times = start_s + np.cumsum(rng.exponential(1.0 / rate, n))
        out += [(float(t), name) for t in times[times < end_s]]
    out.sort()
    return out


async def _send_all(url: str, schedule: list[tuple[float, str]], prompts: dict[str, tuple[str, int]], origin_wall: float,
                    scale: float, start_s: float, at_t0: Callable[[], Any]) -> list[tuple[str, float, float, float, int]]:
    """Send each request at its time (open loop); (pool, scheduled, sent, end, status) in wall seconds."""
    import aiohttp

    records: list[tuple[str, float, float, float, int]] = []
    loop = asyncio.get_running_loop()
    t0_wall = origin_wall + (0.0 - start_s) / scale
    fired = False

    async def one(session: aiohttp.ClientSession, pool: str, scheduled: float) -> None:
        prompt, max_tokens = prompts[pool]
        sent = time.time()
        try:
            async with session.post(f"{url}/completions", json={"model": "lpu-emulator", "prompt": prompt,
                                                                 "max_tokens": max_tokens}) as response:
                await response.read()
                status = response.status
        except aiohttp.ClientError:
            status = 0
        records.append((pool, scheduled, sent, time.time(), status))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        tasks = []
        for t, pool in schedule:
            due = origin_wall + (t - start_s) / scale
            if not fired and due >= t0_wall:
                await asyncio.sleep(max(t0_wall - time.time(), 0.0))
                await at_t0(session)
                fired = True
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(one(session, pool, due)))
        if not fired:
            await asyncio.sleep(max(t0_wall - time.time(), 0.0))
            await at_t0(session)
        await asyncio.gather(*tasks)
    return records


@contextmanager
def emulator_process(project_file: Path, replicas: dict[str, int], queue_caps: dict[str, int | None], routing: str,
                     time_scale: float, failover_time_s: float, *, timeout_s: float = 60.0) -> Iterator[str]:
    """``lpuplan emulate`` in its own process on a free loopback port; yields its root URL."""
    port = free_port()
    args = [sys.executable, "-m", "lpuplan.cli", "emulate", str(project_file), "--port", str(port),
            "--routing", routing, "--time-scale", repr(time_scale), "--failover-time-s", repr(failover_time_s)]
    for name, n in replicas.items():
        args += ["--replicas", f"{name}={n}"]
    for name, cap in queue_caps.items():
        args += ["--queue-cap", f"{name}={'none' if cap is None else cap}"]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        log.seek(0)
        return log.read()[-2000:].decode(errors="replace")

    try:
        _wait_until_up(process, f"{url}/health", "lpuplan emulate", timeout_s, log_tail)
        yield url
    finally:
        _stop(process)
        log.close()


def rehearse(plan: "Plan", project_file: Path, domain: str, settings: GameDaySettings, *, time_scale: float = 10.0,
             prometheus_binary: str | None = None, seed: int = 1, metrics: MetricMap | None = None,
             progress: Callable[[str], None] | None = None,
             while_prometheus: Callable[[str, float, dict[str, Any]], None] | None = None) -> Rehearsal:
    """Predict ``domain``, run it on the emulator with open-loop load, verify (module notes).

    ``while_prometheus(url, t0_unix, document)`` is called after the run while
    the Prometheus server still answers (e.g. to run ``lpuplan gameday verify
    --prometheus`` against it).
    """
    if not (time_scale > 0 and math.isfinite(time_scale)):
        raise InvalidInput("--time-scale", time_scale, "give emulated seconds per wall second > 0")
    if settings.routing not in _ROUTING:
        raise InvalidInput("--routing", settings.routing, "the emulator rehearses round_robin or central routing")
    if settings.in_service != "lost" or settings.unnoticed != "lost":
        raise InvalidInput("--in-service/--unnoticed", (settings.in_service, settings.unnoticed),
                           "the emulator fails requests on a dead replica (lost); rehearse with lost/lost")
    say = progress or (lambda _m: None)
    metrics = metrics or MetricMap()
    say("predicting")
    (prediction,) = predict_plan(plan, domains=[domain], settings=settings, workers=1)
    document = prediction_document([prediction], settings, metrics, project=plan.project.name)
    import json

    from lpuplan.output import dumps_json

    document = json.loads(dumps_json(document))
    counts = plan.facility.replica_counts if plan.facility is not None else {}
    per_replica = settings.routing != "central"
    caps = {}
    for sizing in plan.dedicated:
        admission = sizing.admission_normal
        caps[sizing.name] = None if admission is None else (admission.queue_cap_per_replica if per_replica else admission.queue_cap)
    rates = {p.name: p.arrival_rate for p in (h.pool for h in prediction.pools)}
    for sizing in plan.dedicated:
        rates.setdefault(sizing.name, sizing.traffic.arrival_rate)
    edges = [b.max_prompt_tokens for b in plan.project.buckets]
    prompts = {b.label: (" ".join(["w"] * ((edges[i - 1] + 1) if i else 1)), b.max_output_tokens)
               for i, b in enumerate(plan.project.buckets)}
    start_s = -(settings.warmup_s + settings.before_s)
    end_s = settings.restore_after_s + settings.recovery_s
    schedule = _schedule(rates, start_s, end_s, seed)
    kills = [(hit.pool, int(name.rsplit("/", 1)[1]) - 1) for hit in prediction.blast.pools for name in hit.lost_replicas]
    prom_obs = prom_verdict = None
    with emulator_process(project_file, counts, caps, _ROUTING[settings.routing], time_scale,
                          settings.failover_time_s) as root:
        target = root.removeprefix("http://")
        scrape = max(settings.interval_s / time_scale / 4, 0.1)
        with (prometheus_server(prometheus_binary, target, scrape) if prometheus_binary else _nothing()) as prom_url:
            if prom_url:
                _await_scrapes(prom_url, 3, timeout_s=30.0)  # scraping for real before the traffic starts
            say(f"sending {len(schedule)} requests over {(end_s - start_s) / time_scale:.1f} wall s")
            origin = time.time() + 0.2
            t0_box: list[float] = []

            async def at_t0(session: Any) -> None:
                t0_box.append(time.time())
                for pool, index in kills:
                    async with session.post(f"{root}/control/pools/{pool}/replicas/{index}/kill",
                                            json={"duration_s": settings.restore_after_s}) as response:
                        if response.status != 200:
                            raise RuntimeError(f"the emulator refused to kill {pool}/{index}: {await response.text()}")

            records = asyncio.run(_send_all(f"{root}/v1", schedule, prompts, origin, time_scale, start_s, at_t0))
            t0_unix = t0_box[0]
            if prom_url:
                time.sleep(3 * scrape)  # the last interval scraped
                say("querying Prometheus")
                from facility.gameday.observe import observed_from_prometheus

                pools = [document["pool_predictions"][k]["pool"]["name"] for k in document["domains"][0]["pools"]]
                prom_obs = observed_from_prometheus(prom_url, document, metrics, t0=t0_unix, pools=pools,
                                                    time_scale=time_scale)
                prom_verdict = verify_domain(document, prom_obs)
                if while_prometheus is not None:
                    while_prometheus(prom_url, t0_unix, document)
    say("verifying")
    client: dict[str, Observed] = {}
    for pool in {r[0] for r in records}:
        rows = np.array([(r[2], r[3], {200: OK, 429: SHED}.get(r[4], ERROR)) for r in records if r[0] == pool], float)
        arrival = (rows[:, 0] - t0_unix) * time_scale
        end = (rows[:, 1] - t0_unix) * time_scale
        client[pool] = observed_from_requests(pool, arrival, end, np.full(arrival.size, np.nan), rows[:, 2].astype(int),
                                              document, source="rehearsal client")
    lag = np.array([r[2] - r[1] for r in records])
    return Rehearsal(document, client, verify_domain(document, client), prom_obs, prom_verdict, t0_unix, time_scale,
                     len(records), float(np.quantile(lag, 0.99)) if lag.size else 0.0)


def _await_scrapes(url: str, count: int, *, timeout_s: float) -> None:
    """Wait until Prometheus has scraped the emulator ``count`` times (targets start with a random offset)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{url}/api/v1/query", params={"query": 'count_over_time(up{job="lpu-emulator"}[1h])'},
                             timeout=2.0).json()
            result = body.get("data", {}).get("result") or []
            if result and float(result[0]["value"][1]) >= count:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus did not scrape the emulator {count} times within {timeout_s:g} s")


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def find_prometheus() -> str | None:
    """The ``prometheus`` binary on PATH (Debian's package), or None."""
    return shutil.which("prometheus") or (os.environ.get("PROMETHEUS_BIN") or None)
