"""The openai backend against a REAL server process: llama-cpp-python's, on 127.0.0.1.

Nothing is mocked at the HTTP layer: the test writes a tiny GGUF model
(tests/benchmarks/llama_server.py), starts ``python -m llama_cpp.server`` on a
free loopback port, sweeps it, and kills it. llama-cpp-python's server streams
/v1/completions and has /extras/tokenize, and reports ``usage`` on
non-streaming answers but no ``timings`` (only the C++ llama-server has
those; their parsing is tested on recorded bodies in test_openai_parsing.py),
so the fit takes the client-timing route.

Needs ``llama-cpp-python[server]`` and ``gguf`` (``bash .ci/llama.sh``
installs them, reusing a cached wheel); skipped, naming the package, without them.
"""

from __future__ import annotations

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

from benchmarks.fit import fit_samples  # noqa: E402
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


def test_sweep_against_llama_cpp_server(server, tmp_path):
    url, _ = server
    path = tmp_path / "samples.jsonl"
    plan = SweepPlan((256, 1024, 2048), (1, 16), repeats=3, warmup=1, seed=3)
    with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=30) as backend:
        summary = run_sweep(backend, plan, SampleStore(path))
        described = backend.describe()
    assert summary.measured == 18 + 3 and not summary.gave_up  # 3 floor samples
    assert described["tokenizer"] == "server" and described["endpoint"] == url

    records = [r for r in read_samples(path) if r.status == "ok"]
    for record in records:
        m = record.measurement
        assert 0 < m.first_byte_ns <= m.first_token_ns <= m.end_ns
        assert list(m.token_ns) == sorted(m.token_ns) and m.token_ns[0] == m.first_token_ns
        if record.bucket:
            assert m.prompt_tokens == record.bucket  # exact prompt lengths through /extras/tokenize
        else:
            assert m.prompt_tokens <= 2  # floor: BOS and one byte
        assert m.completion_tokens == record.output_tokens == len(m.token_ns)  # EOS forbidden by logit_bias
        assert m.finish_reason == "length"
        if record.output_tokens > 1:
            assert m.tpot_s > 0

    fit = fit_samples(records)
    assert fit.prefill_method.startswith("client")
    assert fit.r_decode_server is None  # this server reports no timings
    assert fit.r_decode.value > 0 and fit.r_decode.ci95[0] <= fit.r_decode.value <= fit.r_decode.ci95[1]
    assert fit.l_fixed_s.value > 0
    assert [b.bucket for b in fit.r_prefill] == [256, 1024, 2048]
    assert all(b.rate.value > 0 for b in fit.r_prefill)


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
        with OpenAIBackend(url, "tiny", api_key_env=None, end_token_id=EOS_ID, timeout_s=10) as backend:
            backend.prepare()  # calibrate while the server is up
            started = threading.Event()
            original = backend.clock.now_ns
            calls = {"n": 0}

            def counting_now() -> int:
                calls["n"] += 1
                if calls["n"] == 20:  # a few tokens into the first stream
                    started.set()
                return original()

            backend.clock.now_ns = counting_now  # type: ignore[method-assign]
            killer = threading.Thread(target=lambda: started.wait(30) and process.kill())
            killer.start()
            summary = run_sweep(backend, plan, SampleStore(path), clock=backend.clock)
            killer.join()
    records = read_samples(path)
    assert not [r for r in records if r.status == "ok"]
    assert len(summary.gave_up) == 2
    kinds = [r.error["type"] for r in records]
    assert kinds[0] == "BackendStreamBroken"
    assert set(kinds[1:]) <= {"BackendUnavailable", "BackendStreamBroken"}
    assert all(r.measurement is None for r in records)


def test_measure_records_real_counts_when_the_end_token_is_allowed(server):
    url, _ = server
    with OpenAIBackend(url, "tiny", api_key_env=None) as backend:
        m = backend.measure(RequestSpec("x", 32, 8, nonce=99))
    assert 1 <= m.completion_tokens <= 8
    assert m.completion_tokens == len(m.token_ns)
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
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    assert [e.bucket for e in profile.fit.r_prefill] == [256, 1024]
    document = profile.to_json_dict()
    assert document["backend"]["endpoint"] == url and document["backend"]["exact_output"] == "logit_bias"
