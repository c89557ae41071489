"""Runbook, band plot, Prometheus rules (promtool) and Chaos Toolkit experiment (chaos validate)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dimensioning.errors import InvalidInput
from facility.gameday.chaos import chaos_experiment, chaos_json
from facility.gameday.metrics import DEFAULT_SIGNALS, MetricMap, duration_text, load_metric_map
from facility.gameday.plots import bands_png
from facility.gameday.rules import rules_yaml
from facility.gameday.runbook import runbook_markdown
from lpuplan.plan_gameday import predict_plan


@pytest.fixture(scope="module")
def predictions(small_plan):
    from facility.gameday.model import GameDaySettings
    from tests.facility.gameday.conftest import FAST

    return predict_plan(small_plan, domains=["row01-pod01-rack01", "row01-pod01"], settings=GameDaySettings(**FAST),
                        workers=1)


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("SKIPPED LOUDLY: promtool (Debian package 'prometheus') is not installed; run .ci/prometheus.sh")
    return path


def _chaos() -> str:
    path = Path(sys.executable).with_name("chaos")
    if not path.exists():
        pytest.skip("SKIPPED LOUDLY: chaostoolkit is not installed (pip install 'lpuplan[test]')")
    try:
        import jsonpath2  # noqa: F401
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: jsonpath2 (chaostoolkit's JSON-path tolerances) not installed (pip install 'lpuplan[test]')")
    return str(path)


def test_promtool_accepts_the_rules_and_rejects_a_broken_copy(predictions, tmp_path) -> None:
    promtool = _promtool()
    good = tmp_path / "alerts.yml"
    good.write_text(rules_yaml(predictions, MetricMap()))
    run = subprocess.run([promtool, "check", "rules", str(good)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = sum(len(d.aborts) - 1 for d in predictions)  # feed_overload has no default query
    assert f"SUCCESS: {expected} rules found" in run.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(good.read_text().replace("histogram_quantile(0.99,", "histogram_quantile(0.99,,", 1))
    assert subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, timeout=60).returncode != 0


def test_rules_carry_threshold_prediction_and_margin(predictions) -> None:
    import yaml

    doc = yaml.safe_load(rules_yaml(predictions[:1], MetricMap()))
    rules = {r["labels"]["condition"]: r for r in doc["groups"][0]["rules"]}
    p99 = rules["p99_e2el"]
    cond = next(a for a in predictions[0].aborts if a.name == "p99_e2el")
    assert p99["expr"].endswith(f"> {cond.threshold!r}")
    assert p99["for"] == "1m"
    assert p99["annotations"]["predicted"].startswith(f"{cond.predicted:.6g}")
    assert rules["errors_after_failover"]["for"] == duration_text(15.0 + 60.0)
    assert rules["replicas_down"]["expr"].endswith("< 7.0")
    scaled = yaml.safe_load(rules_yaml(predictions[:1], MetricMap(), time_scale=10.0))
    assert {r["for"] for r in scaled["groups"][0]["rules"]} >= {"6s"}


def test_chaos_validate_accepts_the_experiment_and_rejects_a_broken_copy(predictions, tmp_path) -> None:
    chaos = _chaos()
    good = tmp_path / "experiment.json"
    good.write_text(chaos_json(predictions[0], MetricMap()))
    args = [chaos, "--no-version-check", "--no-log-file", "validate"]
    run = subprocess.run(args + [str(good)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    broken = json.loads(good.read_text())
    broken["steady-state-hypothesis"]["probes"][0]["tolerance"] = {"type": "range", "range": ["a", 1]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    assert subprocess.run(args + [str(bad)], capture_output=True, timeout=120).returncode != 0


def test_experiment_kills_the_lost_replicas_and_rolls_them_back(predictions) -> None:
    exp = chaos_experiment(predictions[1], MetricMap())  # the pod: four replicas
    kills = [a for a in exp["method"] if a["name"].startswith("kill-")]
    assert len(kills) == 4
    assert all(a["provider"]["url"].endswith("/kill") for a in kills)
    assert len(exp["rollbacks"]) == 4 and all(a["provider"]["url"].endswith("/recover") for a in exp["rollbacks"])
    assert kills[-1]["pauses"]["after"] == 240.0
    probes = exp["steady-state-hypothesis"]["probes"]
    assert any("<= bool" in p["provider"]["arguments"]["query"] for p in probes)


def test_runbook_has_every_section_and_the_predicted_figures(predictions) -> None:
    text = runbook_markdown(predictions[0], MetricMap(), project="small")
    for heading in ("## Hypothesis", "## Blast radius", "## Preconditions", "## Steps", "## Expected signals",
                    "## Abort conditions", "## Rollback", "## Metric mapping", "## Results"):
        assert heading in text
    assert "$" not in text.replace("$pool", "").replace("$window", "").replace("$slo", "")  # every placeholder filled
    cond = next(a for a in predictions[0].aborts if a.name == "p99_e2el")
    assert f"{cond.threshold * 1e3:.3g} ms" in text  # latencies in ms, like the JSON
    assert "GO" in text.splitlines()[2]


def test_band_plot_is_a_deterministic_png(predictions) -> None:
    a, b = bands_png(predictions[0]), bands_png(predictions[0])
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == b


def test_metric_map_file_overrides_and_rejects_unknown_names(tmp_path) -> None:
    path = tmp_path / "metrics.toml"
    path.write_text("[signals]\nfeed_load_kw = 'max(pdu_watts{feed=~\"$feeds\"}) / 1000'\n")
    mapping = load_metric_map(path)
    assert mapping.has("feed_load_kw") and mapping.signals["e2el_p99_s"] == DEFAULT_SIGNALS["e2el_p99_s"]
    assert mapping.query("feed_load_kw", feeds="a|b") == 'max(pdu_watts{feed=~"a|b"}) / 1000'
    assert 'le="2.5"' in mapping.query("goodput_rps", pool="chat", slo_s=2.5)
    path.write_text("[signals]\nlatency = 'x'\n")
    with pytest.raises(InvalidInput) as err:
        load_metric_map(path)
    assert "unknown signal" in err.value.fix
