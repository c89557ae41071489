"""The openai backend against a REAL server process: llama-cpp-python's, on 127.0.0.1.

Nothing is mocked at the HTTP layer: the test writes a tiny GGUF model
(tests/benchmarks/llama_server.py), starts ``python -m llama_cpp.server`` on a
free loopback port, sweeps it, and kills it. llama-cpp-python's server streams
/v1/completions and has /extras/tokenize, and reports ``usage`` on
non-streaming answers but no ``timings`` (only the C++ llama-server has
those; their parsing is tested on recorded bodies in test_openai_parsing.py),
so the fit takes the client-timing route. It ignores
``stream_options.include_usage`` (no usage chunk; the backend learns that
from its probe) and its tiny model emits any byte, so streams carry empty-text
chunks (byte tokens) and chunks that hold several tokens.

Needs ``llama-cpp-python[server]`` and ``gguf`` (``bash .ci/llama.sh``
installs them, reusing a cached wheel); skipped, naming the package, without them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import time

import pytest

for _package, _module in (("llama-cpp-python[server]", "llama_cpp.server"), ("llama-cpp-python[server]", "uvicorn"), ("gguf", "gguf")):
    try:
        _found = importlib.util.find_spec(_module) is not None
    except ModuleNotFoundError:
        _found = False
    if not _found:
        pytest.skip(f"{_package} is not installed (module {_module}); run `bash .ci/llama.sh`", allow_module_level=True)

from benchmarks.fit import FitImpossible, fit_samples  # noqa: E402
from benchmarks.openai_backend import OpenAIBackend  # noqa: E402
from benchmarks.protocol import RequestSpec  # noqa: E402
from benchmarks.samples import SampleStore, read_samples  # noqa: E402
from benchmarks.sweep import SweepPlan, run_sweep  # noqa: E402
from tests.benchmarks.llama_server import EOS_ID, serve, write_tiny_model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    with serve(tiny_model, tmp_path_factory.mktemp("log") / "server.log") as (url, process):
        yield url, process


def test_the_model_really_emits_byte_tokens_that_arrive_as_empty_chunks(server):
    """Precondition of the tests below: the server streams chunks whose text is empty (incomplete UTF-8)."""
    import json

    import httpx

    url, _ = server
    body = {"model": "tiny", "prompt": "lpuplan probes bytes", "max_tokens": 16, "temperature": 0.0, "stream": True,
            "logit_bias": {str(EOS_ID): -100}}
    texts = []
    with httpx.stream("POST", f"{url}/completions", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                choice = json.loads(line[6:])["choices"][0]
                if not choice.get("finish_reason"):
                    texts.append(choice["text"])
    assert "" in texts, texts
    with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=30) as backend:
        m = backend.measure(RequestSpec("bytes", 24, 16, nonce=7))
    assert m.completion_tokens == 16 and m.count_source == "finish_reason=length"
    assert 1 <= len(m.token_ns) <= 16


def test_sweep_against_llama_cpp_server(server, tmp_path):
    url, _ = server
    path = tmp_path / "samples.jsonl"
    plan = SweepPlan((256, 1024), (1, 16), repeats=3, warmup=1, seed=3)
    with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=30) as backend:
        backend.prepare()
        summary = run_sweep(backend, plan, SampleStore(path))
        described = backend.describe()
    assert summary.measured == 12 + 3 and not summary.gave_up  # 3 floor samples
    assert described["tokenizer"] == "server" and described["endpoint"] == url
    assert described["stream_end"] == {"usage": False, "done": True}  # llama-cpp-python sends no usage chunk

    records = [r for r in read_samples(path) if r.status == "ok"]
    for record in records:
        m = record.measurement
        assert 0 < m.first_byte_ns <= m.first_token_ns <= m.end_ns
        assert list(m.token_ns) == sorted(m.token_ns) and m.token_ns[0] == m.first_token_ns
        if record.bucket:
            assert m.prompt_tokens == record.bucket  # exact prompt lengths through /extras/tokenize
        else:
            assert m.prompt_tokens <= 2  # floor: BOS and one byte
        # EOS forbidden by logit_bias: it stops at max_tokens, or past it inside a UTF-8 sequence
        # (llama-cpp-python 0.3.x skips its max_tokens check there); byte tokens may share a chunk
        assert m.finish_reason == "length"
        if m.count_source == "finish_reason=length":
            assert m.completion_tokens == record.output_tokens and len(m.token_ns) <= record.output_tokens
        else:
            assert m.count_source == "events" and m.output_count == len(m.token_ns) > record.output_tokens
        if record.output_tokens > 1:
            assert m.tpot_s > 0

    # The fit's numbers are checked against a known truth on the mock (test_fit.py); here the
    # plumbing: a real server's samples give finite figures, or a fit that says why it cannot.
    try:
        fit = fit_samples(records)
    except FitImpossible as exc:
        assert "interval is unbounded" in exc.fix or "not positive" in exc.fix, exc  # noise on a busy machine
        return
    assert fit.prefill_method.startswith("least squares")
    assert fit.r_decode_server is None  # this server reports no timings
    assert fit.r_decode.value > 0 and fit.r_decode.ci95[0] <= fit.r_decode.value <= fit.r_decode.ci95[1]
    assert fit.l_fixed_s.value > 0
    assert [b.bucket for b in fit.r_prefill] == [256, 1024]
    assert all(0 < b.rate.value < float("inf") for b in fit.r_prefill)


def test_prompts_are_unique_so_the_prefix_cache_never_serves_them(server):
    url, _ = server
    with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID) as backend:
        backend.prepare()
        texts = [backend.prompts.build(64, nonce=n)[0] for n in range(20)]
    assert len(set(texts)) == 20
    assert all(a[0] != b[0] for a, b in zip(texts, texts[1:]))


def test_server_killed_mid_stream_gives_failed_samples_not_measurements(tiny_model, tmp_path):
    path = tmp_path / "samples.jsonl"
    plan = SweepPlan((64,), (3000,), repeats=2, warmup=0, max_attempts=2, backoff_base_s=0.05, floor=False)
    with serve(tiny_model, tmp_path / "server.log") as (url, process):
        with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=3) as backend:
            backend.prepare()  # calibrate while the server is up
            started = threading.Event()
            original = backend.clock.now_ns
            calls = {"n": 0}

            def counting_now() -> int:
                calls["n"] += 1
                if calls["n"] == 6:  # sent, first byte, then a few lines into the first stream
                    started.set()
                return original()

            backend.clock.now_ns = counting_now  # type: ignore[method-assign]
            killer = threading.Thread(target=lambda: started.wait(8) and process.kill())
            killer.start()
            summary = run_sweep(backend, plan, SampleStore(path), clock=backend.clock)
            killer.join()
    records = read_samples(path)
    assert not [r for r in records if r.status == "ok"]
    assert len(summary.gave_up) == 2
    kinds = [r.error["type"] for r in records]
    # cut mid-stream, or silent until the read timeout: llama-cpp-python holds a stream's chunks back
    # once a token is not valid UTF-8, so the kill may come before the first chunk
    assert kinds[0] in ("BackendStreamBroken", "BackendTimeout")
    assert set(kinds[1:]) <= {"BackendUnavailable", "BackendStreamBroken", "BackendTimeout"}
    assert all(r.measurement is None for r in records)


def test_measure_records_real_counts_when_the_end_token_is_allowed(server):
    url, _ = server
    with OpenAIBackend(url, "tiny", api_key_env=None) as backend:
        m = backend.measure(RequestSpec("x", 32, 8, nonce=99))
    assert 1 <= m.completion_tokens <= 8 + 8  # llama-cpp-python may run past max_tokens inside a UTF-8 sequence
    assert 1 <= len(m.token_ns) <= m.completion_tokens
    assert m.e2el_s > 0 and time.perf_counter_ns() > m.end_ns


def test_lpuplan_bench_openai_cli_against_the_server(server, tmp_path):
    from typer.testing import CliRunner

    from dimensioning.profile import load_profile
    from lpuplan.cli import app

    url, _ = server
    out = tmp_path / "profile.json"
    result = CliRunner().invoke(
        app,
        ["bench", "--backend", "openai", "--url", url, "--model", "tiny", "--end-token", str(EOS_ID),
         "--buckets", "256,1024", "--outputs", "1,8", "--repeats", "2", "--warmup", "1", "-o", str(out)],
    )
    assert "Traceback" not in result.output
    if result.exit_code == 2:  # too noisy a machine for 2 repeats: the fit says why, no profile
        assert "cannot fit the profile" in result.output and not out.exists(), result.output
        return
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    assert [e.bucket for e in profile.fit.r_prefill] == [256, 1024]
    document = profile.to_json_dict()
    assert document["backend"]["endpoint"] == url and document["backend"]["exact_output"] == "logit_bias"


def _raise_priority(pid: int | None = None) -> None:
    """Best effort: run the server and this client ahead of other work on a shared CI box (needs root)."""
    import os

    try:
        os.setpriority(os.PRIO_PROCESS, pid or 0, -10)
    except (PermissionError, OSError):
        pass


class _DirectTimed:
    """Wraps the backend: next to each harness request of the target shape, times one such request itself.

    The direct timer is independent of the harness (its own httpx client and
    ``time.perf_counter``, from sending to the answer's last byte). Each
    direct timing sits right next to a harness sample of the same shape and
    mode, alternately before and after it, so the machine's load (a shared
    2-core box) hits both sides alike and neither always goes first.
    """

    name = "openai"

    def __init__(self, inner: OpenAIBackend, url: str, prompt_tokens: int, output_tokens: int) -> None:
        import httpx

        self.inner, self.url = inner, url
        self.prompt_tokens, self.output_tokens = prompt_tokens, output_tokens
        self.client = httpx.Client(timeout=60)
        self.nonce = 1 << 43  # never a harness nonce
        self.direct: dict[str, list[float]] = {"streamed": [], "non-streamed": []}
        self.paired = 0

    def describe(self):
        return self.inner.describe()

    def time_one(self, mode: str) -> float:
        self.nonce += 1
        text = self.inner.prompts.build(self.prompt_tokens, nonce=self.nonce)[0]
        body = {"model": "tiny", "prompt": text, "max_tokens": self.output_tokens, "temperature": 0.0,
                "stream": mode == "streamed", "logit_bias": {str(EOS_ID): -100}}
        start = time.perf_counter()
        with self.client.stream("POST", f"{self.url}/completions", json=body) as response:
            for _ in response.iter_bytes():
                pass
        return time.perf_counter() - start

    def prepare(self) -> None:
        self.inner.prepare()
        for mode in ("streamed", "non-streamed", "streamed", "non-streamed"):
            self.time_one(mode)  # warm-up of the direct path (connection, first requests are slower), not kept

    def measure(self, request):
        target = (request.prompt_tokens, request.output_tokens) == (self.prompt_tokens, self.output_tokens)
        if not target or request.sample_id.startswith(("warmup", "filler")):
            return self.inner.measure(request)
        self.paired += 1
        if self.paired % 2:
            self.direct[request.mode].append(self.time_one(request.mode))
            return self.inner.measure(request)
        measured = self.inner.measure(request)
        self.direct[request.mode].append(self.time_one(request.mode))
        return measured


_TOLERANCE = 0.05  # issue 16 item 6


def test_profile_service_time_of_each_mode_matches_a_direct_timing(server):
    """Issue 16 item 6: the profile's non-streamed and streamed service times, each within 5% of a direct timing.

    What is compared, like with like: the profile's point estimate of the
    service time at the shape (256 prompt, 32 output tokens), i.e. what the
    fit evaluates there (``P/R_prefill + O/R_decode + L_fixed``; the sizing
    may take the conservative end of the interval instead, but that is a
    choice made later, not the measurement), against the same estimator
    (:func:`benchmarks.fit.shape_mean`: the fit's outlier rule, then the mean)
    over direct timings of that shape. The sweep (one bucket, the floor, two
    output lengths) makes the fit saturated, so its figure at the shape is
    that shape's own sample mean: the test checks that the harness times a
    request as an independent timer does, and that the mode is right.

    Where the 4-10% errors seen before came from (measured, both sides
    interleaved, at load 5 on 2 cores): noise, not a bias. The figure was the
    plain mean of 6 samples against the mean of 18 direct timings taken
    before every harness sample whatever its shape; its sign flipped between
    attempts, the service-time CV under load was 0.2-0.6 with a heavy upper
    tail (preemption) that a 6-sample mean cannot absorb (the outlier rule
    needs 10 samples per shape), and the first requests after the server
    started were 1.5-3x slower (no warm-up of the direct path). Now: 100
    samples of the shape per mode (the outlier rule applies to both sides),
    a direct timing next to each, warm-up of both paths. With 20 samples the
    non-streamed request (~13 ms, CV ~0.3) still missed 5% in all 3 attempts
    of a clean-clone CI run at load 0.9-1.0 per core (+6%, +9%, -11%): the
    difference of two 20-sample means has a standard error near 10% there;
    100 samples bring it near 4% for about 20 s more per attempt. The machine's load
    still varies between runs, so up to 3 attempts are made; a systematic
    error, such as the streamed service time standing in for the non-streamed
    one (2.2x in the issue), fails every attempt.
    """
    import os

    from benchmarks.fit import shape_mean
    from benchmarks.run import measure_profile
    from benchmarks.samples import MemoryStore
    from dimensioning.service_time import service_seconds

    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    if load > 1.0:
        pytest.skip(f"SKIPPED LOUDLY: the machine is overloaded (load {load:.1f} per core): a timing comparison needs a quiet one")
    url, process = server
    _raise_priority(process.pid)
    _raise_priority()
    prompt_tokens, output_tokens = 256, 32
    attempts = []
    for attempt in range(3):
        plan = SweepPlan((prompt_tokens,), (1, output_tokens), repeats=100, warmup=4, seed=11 + attempt,
                         modes=("streamed", "non-streamed"))
        with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=60) as backend:
            timed = _DirectTimed(backend, url, prompt_tokens, output_tokens)
            try:
                result = measure_profile(timed, plan, MemoryStore(), created="2026-01-01T00:00:00+00:00")
            except FitImpossible as exc:
                attempts.append(str(exc))
                continue
            finally:
                timed.client.close()
        errors = {}
        for mode, fit in result.fits.items():
            profiled = service_seconds(prompt_tokens, output_tokens, fit.r_prefill[0].rate.value, fit.r_decode.value,
                                       fit.l_fixed_s.value)
            direct = shape_mean(timed.direct[mode]).value
            errors[mode] = (round(profiled / direct - 1.0, 4), round(profiled, 5), round(direct, 5))
        attempts.append({"load_per_core": round(os.getloadavg()[0] / (os.cpu_count() or 1), 2), **errors})
        if all(abs(e[0]) <= _TOLERANCE for e in errors.values()):
            break
    else:
        pytest.fail(f"profile vs direct timing (relative error, profiled s, direct s) in every attempt: {attempts}")
    assert result.profile["fits"].keys() == {"streamed", "non-streamed"} and "streaming_overhead" in result.profile


class _Isolation:
    """The server on one core, the load generator on another, both real-time (SCHED_FIFO) for the test's span.

    Why (measured on the shared 2-core development VM, docs/validate.md): with
    both processes free to run anywhere at nice -10, the generator's send lag
    p99 was 3-15 ms (limit 2) whenever anything else ran, and the server's
    own service time moved by 20% within a minute; with the server pinned to
    core 0 and the generator to core 1, both SCHED_FIFO, the lag p99 was
    1.1-1.4 ms at load average 1.4-2.8. The server under test is then
    "llama-cpp-python on one core", a deployment choice like ``--n_threads 1``;
    nothing of its own code or of the queue changes. Restored on exit
    (affinity to every CPU, SCHED_OTHER), so the other tests of the module
    see the server as before.
    """

    def __init__(self, pid: int) -> None:
        import os

        self.pid = pid
        self.cpus = sorted(os.sched_getaffinity(0))
        self.realtime = False

    def _threads(self) -> list[int]:
        import os

        return [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]

    def __enter__(self) -> "_Isolation":
        import os

        server_cpu, generator_cpu = self.cpus[0], self.cpus[1]
        for tid in self._threads():  # threads created later (the threadpool) inherit affinity and policy
            with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
                os.sched_setaffinity(tid, {server_cpu})
        os.sched_setaffinity(0, {generator_cpu})
        try:
            for tid in self._threads():
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(10))
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
            self.realtime = True
        except (PermissionError, OSError):
            _raise_priority(self.pid)
            _raise_priority()
        return self

    def __exit__(self, *exc: object) -> None:
        import os

        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.sched_setaffinity(0, set(self.cpus))
        for tid in self._threads():
            try:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                os.sched_setaffinity(tid, set(self.cpus))
            except (ProcessLookupError, OSError):
                pass


def test_fidelity_predicts_the_real_server_p99_at_rho_0_5_and_0_7(server):
    """Issue 10 item 5: the real server, one request at a time (M/G/1), loaded by lpuplan's own generator.

    Through :func:`benchmarks.validate.run_fidelity` (what ``lpuplan fidelity``
    runs) with one pool served by one server: just before each load, the
    server's service law measured at saturation (bursts: the makespan per
    request and the departure spacing, :mod:`benchmarks.validate.saturated`)
    and its e2el alone; the exact M/G/1 prediction with that law, with the
    model's run-to-run range for exactly this design (2 runs of 400 requests);
    open-loop Poisson load at rho 0.5 and 0.7. No p99 may MISS the prediction:
    it must be within 10% of it, or consistent with it (inside the model's run
    range widened by 10%, the interval a correct model's measurement falls in
    95% of the time: one run's i.i.d. interval is too narrow to decide on), or
    undecided (the two runs straddle that range: not evidence either way).

    Exceptions, decided by measurements, not by the outcome: when the
    server's service time UNDER the load (busy-period departure spacing) is
    significantly different from the one measured just before it (its
    inflation interval excludes 1 by more than 5%: on the shared development
    VM the server's speed moved by up to 30% within seconds while other
    sessions ran), the input was wrong, not the model, and the p99 must then
    not miss the same model fed the service law measured under the load
    (``given_service``): the queue model is checked without the error of its
    input. A wrong model or a wrong service input misses without a drift of
    the server's speed, and fails.
    Every figure is in the message and printed (``-s``).

    The server and the generator each get a core and real-time priority for
    the test's span (:class:`_Isolation`, why in its docstring). A load
    whose generator still fell behind (send lag p99 > 2 ms) decides nothing:
    the test skips loudly, with the figures, if that happens at both loads.
    A miss is also excused when the CPU time the hypervisor stole from this
    VM during the load (``steal_s``, /proc/stat; server and generator both
    run here) covers it: a stall of T lifts any latency by at most T, so a
    p99 that falls inside the range once T is taken off is the host's.
    Added time: about 30 s.
    """
    import os

    from benchmarks.validate import PoolDesign, run_fidelity

    load = os.getloadavg()[0]
    if load / (os.cpu_count() or 1) > 1.0:
        pytest.skip(f"SKIPPED LOUDLY: the machine is overloaded (load average {load:.1f} on {os.cpu_count()} cores):"
                    " the server's own service time inflates under contention (x1.8 seen at load 8 on 2 cores), so a"
                    " latency prediction cannot be checked; rerun on a quieter one")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("SKIPPED LOUDLY: fewer than 2 CPUs available: the server and the load generator need one each")
    url, process = server
    with _Isolation(process.pid) as isolation:
        report = run_fidelity(url, [PoolDesign("p128", 128, 16, 1.0, 1)], rhos=(0.5, 0.7), requests=400, runs=2,
                              model="tiny", stream=False, tokenizer="server", end_token_id=EOS_ID, bench_repeats=40,
                              bench_warmup=100, replications=200, seed=5, max_send_lag_ms=2.0, timeout_s=30)
    trusted = []
    for result in report.results:
        (pool,) = result.pools
        assert pool.prediction.utilization == pytest.approx(result.rho, rel=1e-9)
        assert pool.prediction.model == "M/G/1" and result.saturated is not None
        assert result.errors == 0 and result.shed == 0
        if result.fell_behind:
            continue
        p99 = pool.comparisons[-1]
        (drift,) = result.inflation
        given = pool.given_service_comparisons[-1] if pool.given_service_comparisons else None
        stolen = result.steal_s or 0.0
        figures = (f"rho {result.rho}: p99 predicted {p99.predicted_s * 1e3:.1f} ms, measured {p99.measured.value_s * 1e3:.1f}"
                   f" ms (runs {[round(v * 1e3, 1) for v in p99.measured.runs_s]}), model run range"
                   f" {[round(v * 1e3, 1) for v in p99.run_range_s]} ms: {p99.verdict}; service under load"
                   f" x{drift.ratio:.3f} ({drift.ci95[0]:.3f}-{drift.ci95[1]:.3f}) of the one measured before;"
                   + (f" given that service: p99 {given.predicted_s * 1e3:.1f} ms, range"
                      f" {[round(v * 1e3, 1) for v in given.run_range_s]}: {given.verdict};" if given else "")
                   + f" steal {stolen * 1e3:.0f} ms; load average {load:.1f}, real-time {isolation.realtime};"
                   f" {list(result.residual)}")
        trusted.append(figures)
        if abs(p99.relative_error) <= 0.10 or p99.verdict != "miss":
            continue
        # A miss is excused only by what was measured to break the prediction's premises, never by its size:
        # the hypervisor's steal (a stall of T lifts any latency by at most T: FCFS departures are 1-Lipschitz
        # in the service times), or a drift of the server's speed under which the given-service model holds.
        lo, hi = p99.decision_range_s
        explained_by_steal = p99.measured.value_s > hi and p99.measured.value_s - stolen <= hi
        drifted = drift.ci95[0] > 1.05 or drift.ci95[1] < 0.95
        assert explained_by_steal or (drifted and given is not None and given.verdict != "miss"), figures
    print("\n".join(trusted))  # the figures, for a reader of the log (pytest -s or -rP)
    if not trusted:
        lags = ", ".join(f"rho {r.rho}: {r.send_lag_p99_ms:.2f} ms" for r in report.results)
        pytest.skip(f"SKIPPED LOUDLY: the load generator fell behind its schedule at both loads (send lag p99 {lags};"
                    f" limit 2 ms; load average {load:.1f} on {os.cpu_count()} cores, real-time"
                    f" {isolation.realtime}): a load that was not the one asked for decides nothing")
