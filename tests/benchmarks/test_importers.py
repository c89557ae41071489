"""Importers: SimFaaSInfer fitted_profile.json and BLIS coefficients into profiles.

Inputs are written here in each format's documented shape, with figures
chosen so the expected rates follow by hand; the BLIS check compares with
BLIS's own end-to-end formula (docs/design/core-engine.md), not our mapping.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.importers import import_blis, import_simfaasinfer
from dimensioning.errors import InvalidInput
from dimensioning.profile import load_profile
from lpuplan.output import write_json


def _simfaasinfer_rows():
    rows = []
    for p in (128, 256, 512, 1024):
        rows.append({"type": "prefill", "seq_len": p, "batch_size": 1, "mean_ms": 5.0 + p / 100.0, "median_ms": 0, "std_ms": 0.0})
        rows.append({"type": "prefill", "seq_len": p, "batch_size": 4, "mean_ms": 99.0, "median_ms": 0, "std_ms": 0.0})
    for kv, ms in ((128, 8.0), (512, 10.0)):
        for new in (1, 8, 32):
            rows.append({"type": "decode", "kv_cache": kv, "new_tokens": new, "batch_size": 1, "mean_ms": ms, "median_ms": ms, "std_ms": 0.0})
        rows.append({"type": "decode", "kv_cache": kv, "new_tokens": 1, "batch_size": 2, "mean_ms": 50.0, "median_ms": 0, "std_ms": 0.0})
    return rows


@pytest.fixture
def simfaas(tmp_path):
    path = tmp_path / "fitted_profile.json"
    path.write_text(json.dumps(_simfaasinfer_rows()))
    return path


def test_simfaasinfer_mapping(simfaas, tmp_path):
    # t(P) = 5 ms + P / (100 tok/ms): L_fixed 5 ms, R_prefill 100,000 tok/s at every P.
    document = import_simfaasinfer(simfaas, buckets=(128, 384, 1024), created="2026-01-01T00:00:00+00:00")
    fit = document["fit"]
    assert [e["bucket"] for e in fit["r_prefill"]] == [128, 384, 1024]
    for entry in fit["r_prefill"]:
        assert entry["value"] == pytest.approx(100_000.0, rel=1e-9)
    assert fit["l_fixed_s"]["value"] == pytest.approx(0.005, rel=1e-9)
    assert fit["r_decode"]["value"] == pytest.approx(100.0)  # 10 ms steps at the largest kv_cache (512)
    assert "batch_size 1" in document["mapping"]["format"]
    path = write_json(tmp_path / "p.json", document)
    assert load_profile(path).fit.r_decode.value == pytest.approx(100.0)


def test_simfaasinfer_decode_context_interpolates_and_never_extrapolates(simfaas):
    document = import_simfaasinfer(simfaas, decode_context=320)
    assert document["fit"]["r_decode"]["value"] == pytest.approx(1000.0 / 9.0)
    with pytest.raises(InvalidInput) as info:
        import_simfaasinfer(simfaas, decode_context=4096)
    assert info.value.field == "--decode-context"
    with pytest.raises(InvalidInput) as info:
        import_simfaasinfer(simfaas, buckets=(2048,))
    assert info.value.field == "--buckets"


def test_simfaasinfer_rejects_other_shapes(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(InvalidInput):
        import_simfaasinfer(path)


BETA = [5000.0, 20.0, 6.0]
ALPHA = [2000.0, 2.0, 3000.0]


def _blis_e2e_us(p: int, o: int) -> float:
    """BLIS's own lone-request latency: queueing, prefill step + alpha2, then O-1 decode ITLs."""
    a0, a1, a2 = ALPHA
    b0, b1, b2 = BETA
    return a0 + a1 * p + (b0 + b1 * p) + a2 + (o - 1) * (b0 + b2 + a2)


@pytest.mark.parametrize("p, o", [(512, 1), (2048, 64), (8192, 256)])
def test_blis_profile_is_blis_plus_one_decode_step(tmp_path, p, o):
    path = tmp_path / "coeffs.json"
    path.write_text(json.dumps({"id": "m", "GPU": "H100", "beta_coeffs": BETA, "alpha_coeffs": ALPHA}))
    fit = import_blis(path, buckets=(512, 2048, 8192))["fit"]
    rate = {e["bucket"]: e["value"] for e in fit["r_prefill"]}
    service_s = p / rate[p] + o / fit["r_decode"]["value"] + fit["l_fixed_s"]["value"]
    one_step_s = (BETA[0] + BETA[2] + ALPHA[2]) / 1e6
    assert service_s == pytest.approx(_blis_e2e_us(p, o) / 1e6 + one_step_s, rel=1e-12)


def test_blis_models_list_in_yaml_picks_one_entry(tmp_path):
    path = tmp_path / "coefficients.yaml"
    path.write_text(
        "models:\n"
        "- {id: a/x, GPU: H100, tensor_parallelism: 1, beta_coeffs: [1000, 10, 5], alpha_coeffs: [100, 1, 50]}\n"
        "- {id: a/x, GPU: H100, tensor_parallelism: 2, beta_coeffs: [2000, 10, 5], alpha_coeffs: [100, 1, 50]}\n"
    )
    with pytest.raises(InvalidInput, match="2 entries match"):
        import_blis(path, model="a/x")
    document = import_blis(path, model="a/x", gpu="h100", tp=2, buckets=(512,))
    assert document["fit"]["r_decode"]["value"] == pytest.approx(1e6 / 2055.0)
    assert "tensor_parallelism=2" in document["mapping"]["source_entry"]
    assert document["artifact"]["hardware"] == "H100"


def test_blis_without_alpha_needs_l_fixed(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"beta_coeffs": BETA}))
    with pytest.raises(InvalidInput) as info:
        import_blis(path)
    assert info.value.field == "--l-fixed-ms"
    assert import_blis(path, l_fixed_ms=12.0)["fit"]["l_fixed_s"]["value"] == pytest.approx(0.012)


def test_simfaasinfer_carries_batched_decode_rows_through(simfaas):
    # the fixture's decode rows at batch_size 2 take 50 ms per step: 20 tok/s per sequence
    fit = import_simfaasinfer(simfaas, decode_context=320)["fit"]
    rows = {r["concurrency"]: r["value"] for r in fit["r_decode_at_concurrency"]}
    assert rows[1] == pytest.approx(1000.0 / 9.0) and rows[2] == pytest.approx(20.0)


def test_blis_carries_its_step_form_through(tmp_path):
    path = tmp_path / "coeffs.json"
    path.write_text(json.dumps({"beta_coeffs": BETA, "alpha_coeffs": ALPHA}))
    step = import_blis(path)["fit"]["step_model"]
    assert [step["beta0_us"], step["beta1_us"], step["beta2_us"]] == list(BETA)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "0", "-3"])
def test_simfaasinfer_refuses_non_finite_or_non_positive_times_naming_the_row(tmp_path, bad):
    rows = _simfaasinfer_rows()
    text = json.dumps(rows).replace('"mean_ms": 10.0', f'"mean_ms": {bad}', 1)
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as info:
        import_simfaasinfer(path)
    assert "mean_ms" in info.value.field and "row" in info.value.field


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_blis_refuses_non_finite_coefficients_naming_them(tmp_path, bad):
    path = tmp_path / "c.json"
    path.write_text('{"beta_coeffs": [%s, 17.67, 2.84], "alpha_coeffs": [1.0, 2.0, 3.0]}' % bad)
    with pytest.raises(InvalidInput) as info:
        import_blis(path)
    assert info.value.field == "FILE beta_coeffs[0]"


def test_the_cli_exits_2_on_a_nan_coefficient(tmp_path):
    from typer.testing import CliRunner

    from lpuplan.cli import app

    path = tmp_path / "c.json"
    path.write_text('{"beta_coeffs": [NaN, 17.67, 2.84], "alpha_coeffs": [1.0, 2.0, 3.0]}')
    result = CliRunner().invoke(app, ["profile", "import", str(path), "--from", "blis", "-o", str(tmp_path / "p.json")])
    assert result.exit_code == 2, result.output
    assert "beta_coeffs[0]" in result.output and "Traceback" not in result.output
