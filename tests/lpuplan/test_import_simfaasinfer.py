"""SimFaaSInfer's capacity_planning_request.yaml (its docs/capacity_planning.md example) onto a project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dimensioning.errors import InvalidInput
from lpuplan.cli import app
from lpuplan.import_simfaasinfer import import_request, read_request
from lpuplan.project import load_project

PROJECT = Path(__file__).with_name("whatif.toml")
runner = CliRunner()

# the request as SimFaaSInfer documents it (docs/capacity_planning.md, "Capacity Planning Request")
REQUEST = """
workload:
  arrival_rate_range: [1, 100]
  prompt_length:
    distribution: "normal"
    mean: 512
    std: 128
  output_length:
    distribution: "normal"
    mean: 256
    std: 64
constraints:
  max_ttft_p95_ms: 2000
  max_tbt_p99_ms: 200
  max_latency_p99_ms: 10000
  max_cost_per_hour: 100.0
  min_qps: 10.0
config_space:
  gpu_types: ["A100", "H100", "A10G"]
  num_gpus: [1, 2, 4, 8]
  tensor_parallel: [1, 2, 4, 8]
  pipeline_parallel: [1, 2]
  num_replicas: [1, 2, 4, 8]
  schedulers: ["vllm", "orca", "sarathi"]
  max_batch_sizes: [32, 64, 128, 256]
simulation:
  duration: 600
  warmup_duration: 60
  random_seed: 42
"""


def test_the_documented_request_maps_field_by_field(tmp_path):
    path = tmp_path / "capacity_planning_request.yaml"
    path.write_text(REQUEST)
    project, report = import_request(load_project(PROJECT), read_request(path), str(path))
    assert project.workload.lambda_peak == 100.0
    assert (project.workload.prompt_tokens.distribution, project.workload.prompt_tokens.mean,
            project.workload.prompt_tokens.std) == ("gamma", 512.0, 128.0)
    assert (project.workload.output_tokens.mean, project.workload.output_tokens.std) == (256.0, 64.0)
    assert (project.slo.p99_ms, project.slo.ttft_p99_ms, project.slo.tpot_p99_ms) == (10000.0, 2000.0, 200.0)
    assert project.search.slots == (32, 64, 128, 256)
    assert project.search.pool == load_project(PROJECT).search.pool  # the rest of [search] is kept
    assert {m.field: m.target for m in report.mapped} == {
        "workload.arrival_rate_range": "[workload] lambda_peak",
        "workload.prompt_length": "[workload] prompt_tokens",
        "workload.output_length": "[workload] output_tokens",
        "constraints.max_ttft_p95_ms": "[slo] ttft_p99_ms",
        "constraints.max_tbt_p99_ms": "[slo] tpot_p99_ms",
        "constraints.max_latency_p99_ms": "[slo] p99_ms",
        "config_space.max_batch_sizes": "[search] slots",
    }
    assert {m.field for m in report.not_mapped} == {
        "constraints.max_cost_per_hour", "constraints.min_qps", "config_space.gpu_types", "config_space.num_gpus",
        "config_space.tensor_parallel", "config_space.pipeline_parallel", "config_space.num_replicas",
        "config_space.schedulers", "simulation.duration", "simulation.warmup_duration", "simulation.random_seed"}
    assert all(m.note for m in report.not_mapped)


def test_unknown_fields_are_listed_not_dropped():
    _, report = import_request(load_project(PROJECT), {"workload": {"burstiness": 2}, "extras": {}}, "r.yaml")
    notes = {m.field: m.note for m in report.not_mapped}
    assert "not a field" in notes["workload.burstiness"]
    assert "not a section" in notes["extras"]


@pytest.mark.parametrize("request_text, field", [
    ("constraints:\n  max_latency_p99_ms: fast\n", "constraints.max_latency_p99_ms"),
    ("workload:\n  arrival_rate_range: [50, 10]\n", "workload.arrival_rate_range"),
    ("workload:\n  prompt_length: {distribution: zipf, mean: 5}\n", "workload.prompt_length.distribution"),
    ("config_space:\n  max_batch_sizes: [8, 0]\n", "config_space.max_batch_sizes"),
    ("workload: [1, 2\n", "--import-simfaasinfer"),
    ("- just a list\n", "--import-simfaasinfer"),
])
def test_bad_input_is_named_with_a_fix_and_exit_2(tmp_path, request_text, field):
    path = tmp_path / "req.yaml"
    path.write_text(request_text)
    with pytest.raises(InvalidInput) as err:
        import_request(load_project(PROJECT), read_request(path), str(path))
    assert err.value.field == field and err.value.fix
    result = runner.invoke(app, ["search", str(PROJECT), "--import-simfaasinfer", str(path)])
    assert result.exit_code == 2
    assert field in result.output and "Traceback" not in result.output


def test_search_json_carries_the_import(tmp_path):
    project = tmp_path / "p.toml"
    # dedicated pools only: keeps the run short (a shared pool's wait is simulated)
    project.write_text(PROJECT.read_text().replace('pool = ["dedicated", "shared"]\n', ""))
    path = tmp_path / "req.yaml"
    path.write_text(REQUEST.replace("max_batch_sizes: [32, 64, 128, 256]", "max_batch_sizes: [16]")
                    .replace("[1, 100]", "[1, 40]"))
    result = runner.invoke(app, ["search", str(project), "--import-simfaasinfer", str(path), "--json", "--workers", "1"])
    assert result.exit_code in (0, 3), result.output
    data = json.loads(result.stdout)
    assert data["import"]["source"] == str(path)
    assert len(data["import"]["mapped"]) == 7 and len(data["import"]["not_mapped"]) == 11
    assert all("slots=16" in c["label"] for c in data["candidates"])
