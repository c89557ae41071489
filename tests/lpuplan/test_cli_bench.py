"""CLI: ``lpuplan bench`` and ``lpuplan profile show|import`` (typer's CliRunner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dimensioning.profile import load_profile
from lpuplan.cli import app

runner = CliRunner()

TRUTH = """
jitter_cv = 0.0
[[bucket]]
max_prompt_tokens = 512
r_prefill = 40000
r_decode = 280
l_fixed_ms = 30
[[bucket]]
max_prompt_tokens = 2048
r_prefill = 32000
r_decode = 280
l_fixed_ms = 30
"""


@pytest.fixture
def truth(tmp_path):
    path = tmp_path / "truth.toml"
    path.write_text(TRUTH)
    return path


def _bench(tmp_path, truth, *extra):
    return runner.invoke(
        app,
        ["bench", "--backend", "mock", "--truth", str(truth), "--outputs", "1,32", "--repeats", "3",
         "-o", str(tmp_path / "profile.json"), "--created", "2026-01-01T00:00:00+00:00", *extra],
    )


def test_bench_mock_writes_a_profile_that_load_profile_reads(tmp_path, truth):
    result = _bench(tmp_path, truth)
    assert result.exit_code == 0, result.output
    assert "R_prefill" in result.output
    profile = load_profile(tmp_path / "profile.json")
    assert [e.bucket for e in profile.fit.r_prefill] == [512, 2048]
    assert profile.fit.r_prefill[0].value == pytest.approx(40000.0, rel=0.01)
    assert profile.fit.r_decode.value == pytest.approx(280.0, rel=0.01)
    assert profile.fit.l_fixed_s.value == pytest.approx(0.030, rel=0.01)
    document = json.loads((tmp_path / "profile.json").read_text())
    assert document["samples"]["path"] == "profile.samples.jsonl"
    assert (tmp_path / "profile.samples.jsonl").exists()
    assert document["backend"]["name"] == "mock" and document["created"] == "2026-01-01T00:00:00+00:00"


def test_bench_json_prints_one_object_and_is_byte_reproducible(tmp_path, truth):
    first = _bench(tmp_path, truth, "--json", "--samples", str(tmp_path / "a.jsonl"))
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert document["schema"] == "lpuplan.profile/1"
    bytes_a = (tmp_path / "profile.json").read_bytes()
    second = _bench(tmp_path, truth, "--json", "--samples", str(tmp_path / "b.jsonl"))
    assert second.exit_code == 0
    document_b = json.loads(second.stdout)
    assert document_b["fit"] == document["fit"]
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert bytes_a.replace(b"a.jsonl", b"b.jsonl") == (tmp_path / "profile.json").read_bytes()


def test_bench_rerun_resumes_from_the_samples_file(tmp_path, truth):
    assert _bench(tmp_path, truth).exit_code == 0
    lines = (tmp_path / "profile.samples.jsonl").read_text().splitlines()
    assert _bench(tmp_path, truth).exit_code == 0
    assert (tmp_path / "profile.samples.jsonl").read_text().splitlines() == lines  # nothing left to send


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--backend", "mock"], "--truth"),
        (["--backend", "nope"], "--backend"),
        (["--backend", "openai"], "--url"),
        (["--backend", "openai", "--url", "http://127.0.0.1:9/v1"], "--model"),
        (["--backend", "mock", "--truth", "missing.toml"], "no such file"),
        (["--backend", "mock", "--truth", "{truth}", "--buckets", "512,x"], "--buckets"),
        (["--backend", "mock", "--truth", "{truth}", "--buckets", "8192"], "largest bucket"),
        (["--backend", "mock", "--truth", "{truth}", "--repeats", "1"], "repeats"),
        (["--backend", "mock", "--truth", "{truth}", "--created", "yesterday"], "--created"),
        (["--backend", "openai", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--timeout-s", "0"], "--timeout-s"),
    ],
)
def test_bench_bad_input_exits_2_naming_the_field(tmp_path, truth, args, needle):
    args = [a.replace("{truth}", str(truth)) for a in args]
    result = runner.invoke(app, ["bench", *args, "-o", str(tmp_path / "p.json")])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bench_bad_truth_key_exits_2(tmp_path):
    path = tmp_path / "truth.toml"
    path.write_text("[[bucket]]\nmax_prompt_tokens = 512\nr_prefill = -1\nr_decode = 280\nl_fixed_ms = 30\n")
    result = runner.invoke(app, ["bench", "--backend", "mock", "--truth", str(path), "-o", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "r_prefill" in result.output


def test_bench_unreachable_server_fails_fast_naming_the_url(tmp_path):
    from tests.benchmarks.llama_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    result = runner.invoke(
        app, ["bench", "--backend", "openai", "--url", url, "--model", "m", "-o", str(tmp_path / "p.json"), "--timeout-s", "2"]
    )
    assert result.exit_code == 2, result.output
    assert "--url" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "p.json").exists()


def test_profile_show_table_json_and_png(tmp_path, truth):
    assert _bench(tmp_path, truth).exit_code == 0
    shown = runner.invoke(app, ["profile", "show", str(tmp_path / "profile.json")])
    assert shown.exit_code == 0 and "L_fixed" in shown.output and "CV" in shown.output
    as_json = runner.invoke(app, ["profile", "show", str(tmp_path / "profile.json"), "--json"])
    assert json.loads(as_json.stdout)["schema"] == "lpuplan.profile/1"
    png = tmp_path / "fits.png"
    plotted = runner.invoke(app, ["profile", "show", str(tmp_path / "profile.json"), "--png", str(png)])
    assert plotted.exit_code == 0, plotted.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_show_rejects_a_non_profile(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"schema": "other"}')
    result = runner.invoke(app, ["profile", "show", str(path)])
    assert result.exit_code == 2 and "schema" in result.output


def test_profile_import_simfaasinfer_and_blis(tmp_path):
    rows = [{"type": "prefill", "seq_len": p, "batch_size": 1, "mean_ms": 5.0 + p / 100.0, "std_ms": 0.1} for p in (128, 512, 1024)]
    rows += [{"type": "decode", "kv_cache": 512, "new_tokens": 8, "batch_size": 1, "mean_ms": 10.0, "std_ms": 0.1}]
    source = tmp_path / "fitted_profile.json"
    source.write_text(json.dumps(rows))
    out = tmp_path / "imported.json"
    result = runner.invoke(app, ["profile", "import", str(source), "--from", "simfaasinfer", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "mapping" in json.loads(out.read_text()) and "r_prefill" in result.output
    assert load_profile(out).fit.r_decode.value == pytest.approx(100.0)

    coeffs = tmp_path / "c.json"
    coeffs.write_text(json.dumps({"beta_coeffs": [5000, 20, 6], "alpha_coeffs": [2000, 2, 3000]}))
    result = runner.invoke(app, ["profile", "import", str(coeffs), "--from", "blis", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["backend"]["name"] == "import:blis"


@pytest.mark.parametrize("args", [["--from", "nope"], ["--from", "blis", "--l-fixed-ms", "-1"]])
def test_profile_import_bad_input_exits_2(tmp_path, args):
    source = tmp_path / "c.json"
    source.write_text(json.dumps({"beta_coeffs": [5000, 20, 6]}))
    result = runner.invoke(app, ["profile", "import", str(source), "-o", str(tmp_path / "o.json"), *args])
    assert result.exit_code == 2, result.output


def test_project_file_takes_its_rates_from_a_bench_profile(tmp_path, truth):
    from lpuplan.project import parse_project

    assert _bench(tmp_path, truth).exit_code == 0
    data = {
        "workload": {"lambda_peak": 10.0, "prompt_tokens": {"distribution": "constant", "value": 400},
                     "output_tokens": {"distribution": "constant", "value": 32}},
        "slo": {"p99_ms": 2000.0},
        "bucket": [{"max_prompt_tokens": 512, "max_output_tokens": 256, "profile": "profile.json"}],
    }
    project = parse_project(data, tmp_path)
    bucket = project.buckets[0]
    assert bucket.r_prefill == pytest.approx(40000.0, rel=0.01)
    assert bucket.r_decode == pytest.approx(280.0, rel=0.01)
    assert bucket.l_fixed_ms == pytest.approx(30.0, rel=0.01)


# --- serving mode, binding, non-finite figures ------------------------------------------------


def test_bench_mode_both_records_both_fits_and_the_overhead(tmp_path, truth):
    result = _bench(tmp_path, truth, "--mode", "both", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["fit"]["mode"] == "streamed" and sorted(document["fits"]) == ["non-streamed", "streamed"]
    assert document["measurement"]["modes"] == ["streamed", "non-streamed"] and document["measurement"]["concurrency"] == 1
    assert "per_token_s" in document["streaming_overhead"]
    shown = runner.invoke(app, ["profile", "show", str(tmp_path / "profile.json")])
    assert shown.exit_code == 0 and "non-streamed" in shown.output and "streaming overhead" in shown.output


@pytest.mark.parametrize(
    "change, field",
    [(["--hardware", "other-box"], "hardware"), (["--artifact-id", "other"], "artifact"), (["--mode", "both"], "mode"),
     (["--repeats", "4"], "plan.repeats"), (["--outputs", "1,16"], "plan.outputs")],
)
def test_a_resume_that_measured_something_else_is_refused_naming_it(tmp_path, truth, change, field):
    assert _bench(tmp_path, truth, "--hardware", "box-a", "--artifact-id", "a").exit_code == 0
    before = (tmp_path / "profile.json").read_bytes(), (tmp_path / "profile.samples.jsonl").read_bytes()
    args = {"--hardware": "box-a", "--artifact-id": "a"}
    args.update(dict(zip(change[::2], change[1::2])))
    flat = [x for kv in args.items() for x in kv if kv[0] not in ("--repeats", "--outputs", "--mode")] + [
        x for kv in args.items() if kv[0] in ("--repeats", "--outputs", "--mode") for x in kv]
    result = runner.invoke(app, ["bench", "--backend", "mock", "--truth", str(truth), "-o", str(tmp_path / "profile.json"),
                                 "--created", "2026-01-01T00:00:00+00:00", *(["--outputs", "1,32", "--repeats", "3"] if "--outputs" not in args and "--repeats" not in args else []), *flat])
    assert result.exit_code == 2, result.output
    assert field in result.output and "--fresh" in result.output
    assert ((tmp_path / "profile.json").read_bytes(), (tmp_path / "profile.samples.jsonl").read_bytes()) == before
    fresh = runner.invoke(app, ["bench", "--backend", "mock", "--truth", str(truth), "-o", str(tmp_path / "profile.json"),
                                "--created", "2026-01-01T00:00:00+00:00", *(["--outputs", "1,32", "--repeats", "3"] if "--outputs" not in args and "--repeats" not in args else []), *flat, "--fresh"])
    assert fresh.exit_code == 0, fresh.output


def test_an_old_fit_can_never_be_relabelled(tmp_path):
    """The issue's case: a sweep of one model, rerun naming another model and hardware, must not relabel it."""
    from tests.benchmarks.openai_like_server import serve_openai_like

    out = tmp_path / "profile.json"
    with serve_openai_like() as (url, server):
        server.token_gap_s, server.prefill_s_per_token = 0.003, 1e-4  # steady enough for 3 repeats on a busy machine
        common = ["bench", "--backend", "openai", "--url", url, "--buckets", "256", "--outputs", "1,8", "--repeats", "3",
                  "--warmup", "0", "-o", str(out), "--api-key-env", "LPUPLAN_NO_KEY"]
        first = runner.invoke(app, [*common, "--model", "tiny", "--hardware", "box-a"])
        # a busy machine may leave the fit impossible (exit 2, samples kept): the binding is the subject here
        assert first.exit_code == 0 or "cannot fit the profile" in first.output, first.output
        profile_before = out.read_bytes() if out.exists() else None
        samples_before = (tmp_path / "profile.samples.jsonl").read_bytes()
        second = runner.invoke(app, [*common, "--model", "some-other-model", "--hardware", "other-box"])
    assert second.exit_code == 2, second.output
    assert "model" in second.output and "hardware" in second.output and "some-other-model" in second.output
    assert (out.read_bytes() if out.exists() else None) == profile_before
    assert (tmp_path / "profile.samples.jsonl").read_bytes() == samples_before
    if profile_before is not None:
        assert json.loads(profile_before)["artifact"]["hardware"] == "box-a"


def test_samples_file_without_binding_is_refused(tmp_path, truth):
    samples = tmp_path / "old.jsonl"
    samples.write_text('{"id": "512x1#0", "bucket": 512, "prompt_tokens": 512, "output_tokens": 1, "repeat": 0, "attempt": 1, "status": "failed", "error": null, "measurement": null}\n')
    result = _bench(tmp_path, truth, "--samples", str(samples))
    assert result.exit_code == 2 and "binding" in result.output and "--fresh" in result.output


def test_bench_with_too_few_samples_says_why_and_writes_no_profile(tmp_path):
    path = tmp_path / "noisy.toml"
    path.write_text(TRUTH.replace("jitter_cv = 0.0", "jitter_cv = 1.5"))
    for seed in range(12):  # a seed whose 2 samples per shape give an unbounded interval
        out = tmp_path / f"p{seed}.json"
        result = runner.invoke(app, ["bench", "--backend", "mock", "--truth", str(path), "--outputs", "1,2", "--repeats", "2",
                                     "--seed", str(seed), "-o", str(out)])
        assert "Traceback" not in result.output and "TypeError" not in result.output
        if result.exit_code != 0:
            assert result.exit_code == 2, result.output
            assert "cannot fit" in result.output and "--repeats" in result.output
            assert not out.exists()
            return
        assert "Infinity" not in out.read_text() and "NaN" not in out.read_text()
    pytest.fail("no seed produced an unbounded interval: the test lost its subject")


@pytest.mark.parametrize("poison", ["Infinity", "NaN", "null", "1e999"])
def test_profile_show_refuses_non_finite_figures_with_exit_2(tmp_path, truth, poison):
    assert _bench(tmp_path, truth).exit_code == 0
    text = (tmp_path / "profile.json").read_text()
    document = json.loads(text)
    hi = document["fit"]["r_decode"]["ci95"][1]
    (tmp_path / "bad.json").write_text(text.replace(json.dumps(hi), poison, 1))
    result = runner.invoke(app, ["profile", "show", str(tmp_path / "bad.json")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "TypeError" not in result.output and "r_decode" in result.output


@pytest.mark.parametrize("args, needle", [(["--mode", "sometimes"], "--mode"), (["--concurrency", "0"], "--concurrency"),
                                          (["--concurrency", "4"], "--concurrency")])
def test_bench_mode_and_concurrency_bad_input(tmp_path, truth, args, needle):
    result = _bench(tmp_path, truth, *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
