"""A hostile-input corpus: every input lpuplan reads, answered as DESIGN.md promises.

Each case is one bad (or tricky) input to one command: a project-file field,
a trace CSV, a profile JSON, a flag, an output path. Every case asserts the
exit code (2 for invalid input unless the row says otherwise), that no
traceback and no "unexpected error" reach the user, and that the message names
the field or option (and, where it matters, the value and the fix). The table
is data: add a row for each new input.

The commands run in-process through typer's CliRunner (fast); a few run as
real subprocesses, to see the exit code and stderr a shell sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lpuplan.cli import app
from lpuplan.project import example_project_text

runner = CliRunner()

_DISTRIBUTIONS = (
    'prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }\n'
    'output_tokens = { distribution = "lognormal", mean = 350.0, std = 250.0 }\n'
    'assumed = ["lambda_peak", "prompt_tokens", "output_tokens"]'
)
_TRACE = 'trace = "t.csv"\nassumed = ["lambda_peak"]'
_PROFILE = {
    "schema": "lpuplan.profile/1",
    "artifact": {"id": "a"},
    "fit": {
        "r_prefill": [{"bucket": 512, "value": 40000.0, "ci95": [39500.0, 40500.0]}],
        "r_decode": {"value": 280.0, "ci95": [278.0, 282.0]},
        "l_fixed_s": {"value": 0.030, "ci95": [0.029, 0.031]},
    },
}
_PROFILED_BUCKET = ('r_prefill = 40000.0\nr_decode = 280.0\nl_fixed_ms = 30.0\nslots = 16\nchips_per_replica = 576\n'
                    'assumed = ["r_prefill", "l_fixed_ms", "slots", "chips_per_replica"]\n'
                    'sources = { r_decode = "console.groq.com/docs/models: Llama 3.3 70B ~280 tok/s per user" }\n\n[[bucket]]\nname = "p2048"')


def _profile(**changes: object) -> str:
    """The minimal profile with ``changes`` applied (dotted keys into ``fit``), as JSON text."""
    document = json.loads(json.dumps(_PROFILE))
    for dotted, value in changes.items():
        node = document["fit"]
        *path, last = dotted.split(".")
        for key in path:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return json.dumps(document)  # Infinity and NaN are written as JSON's non-standard tokens, as a broken tool would


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # {P}: the project file; {T}: the case's folder
    named: tuple[str, ...]  # every fragment must appear in the output
    replace: dict[str, str] = field(default_factory=dict)  # applied to the example project text
    files: dict[str, str | bytes] = field(default_factory=dict)  # written into {T} before the run
    code: int = 2


def _project_case(id: str, old: str, new: str, *named: str, files: dict | None = None, code: int = 2) -> Case:
    return Case(id, ("validate", "{P}"), named, {old: new}, files or {})


_LATIN1_TRACE = "prompt_tokens,output_tokens\n100,10\n300,5\n# caf\u00e9\n".encode("latin-1")
assert _LATIN1_TRACE.index(b"\xe9") == 46  # the offset the message must name

CASES: list[Case] = [
    # --- project file: [workload] -----------------------------------------------------------------
    _project_case("lambda_peak inf", "lambda_peak = 40.0", "lambda_peak = inf", "workload.lambda_peak", "inf", "finite"),
    _project_case("lambda_peak nan", "lambda_peak = 40.0", "lambda_peak = nan", "workload.lambda_peak", "nan"),
    _project_case("lambda_peak -inf", "lambda_peak = 40.0", "lambda_peak = -inf", "workload.lambda_peak"),
    _project_case("lambda_peak zero", "lambda_peak = 40.0", "lambda_peak = 0.0", "workload.lambda_peak", "greater than 0"),
    _project_case("lambda_peak negative", "lambda_peak = 40.0", "lambda_peak = -40.0", "workload.lambda_peak", "-40.0"),
    _project_case("lambda_peak huge", "lambda_peak = 40.0", "lambda_peak = 1e15", "workload.lambda_peak", "10,000,000", "Limits"),
    _project_case("lambda_peak string", "lambda_peak = 40.0", 'lambda_peak = "forty"', "workload.lambda_peak", "forty"),
    _project_case("lambda_peak typo key", "lambda_peak = 40.0", "lamda_peak = 40.0", "workload.lamda_peak", "unknown key"),
    _project_case("arrival_scv inf", "arrival_scv = 1.0", "arrival_scv = inf", "workload.arrival_scv", "finite"),
    _project_case("arrival_scv zero", "arrival_scv = 1.0", "arrival_scv = 0.0", "workload.arrival_scv"),
    _project_case("arrival_scv huge", "arrival_scv = 1.0", "arrival_scv = 1e9", "workload.arrival_scv", "10,000"),
    _project_case("prompt mean inf", "mean = 1400.0", "mean = inf", "workload.prompt_tokens.mean", "finite"),
    _project_case("prompt std nan", "std = 900.0", "std = nan", "workload.prompt_tokens.std", "finite"),
    _project_case("prompt mean huge", "mean = 1400.0", "mean = 1e20", "workload.prompt_tokens.mean", "10,000,000"),
    _project_case("output std zero", "mean = 350.0, std = 250.0", "mean = 350.0, std = 0.0", "workload.output_tokens", "constant"),
    _project_case("unknown family", 'distribution = "lognormal", mean = 350.0', 'distribution = "weibull", mean = 350.0',
                  "workload.output_tokens.distribution", "weibull"),
    _project_case("histogram nan share", 'prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }',
                  "prompt_tokens = { histogram = [[512.0, nan], [8192.0, 1.0]] }", "workload.prompt_tokens.histogram", "finite"),
    _project_case("histogram inf edge", 'prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }',
                  "prompt_tokens = { histogram = [[512.0, 0.5], [inf, 0.5]] }", "workload.prompt_tokens.histogram", "finite"),
    _project_case("histogram shares", 'prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }',
                  "prompt_tokens = { histogram = [[512.0, 0.5], [8192.0, 0.2]] }", "workload.prompt_tokens", "sum to 1"),
    _project_case("histogram edges", 'prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }',
                  "prompt_tokens = { histogram = [[8192.0, 0.5], [512.0, 0.5]] }", "workload.prompt_tokens", "increasing"),
    # --- [slo], [headroom], [redundancy], [admission] ---------------------------------------------
    _project_case("p99_ms inf", "p99_ms = 6000.0  ", "p99_ms = inf  ", "slo.p99_ms", "finite"),
    _project_case("p99_ms nan", "p99_ms = 6000.0  ", "p99_ms = nan  ", "slo.p99_ms"),
    _project_case("p99_ms week", "p99_ms = 6000.0  ", "p99_ms = 6.048e8  ", "slo.p99_ms", "86,400,000"),
    _project_case("degraded_p99_ms negative", "degraded_p99_ms = 6000.0", "degraded_p99_ms = -1.0", "slo.degraded_p99_ms"),
    _project_case("rho normal 1", "rho_target_normal = 0.70", "rho_target_normal = 1.0", "headroom.rho_target_normal", "less than 1"),
    _project_case("rho degraded nan", "rho_target_degraded = 0.85", "rho_target_degraded = nan", "headroom.rho_target_degraded"),
    _project_case("measured_estimate", "[headroom]", '[headroom]\nmeasured_estimate = "optimistic"', "headroom.measured_estimate"),
    _project_case("replicas_lost_worst -1", "replicas_lost_worst = 1", "replicas_lost_worst = -1", "redundancy.replicas_lost_worst"),
    _project_case("n_plus 1000", "n_plus = 1", "n_plus = 1000", "redundancy.n_plus", "16"),
    _project_case("level planet", 'level = "rack"', 'level = "planet"', "redundancy.level", "planet"),
    _project_case("shed_target 0", "shed_target = 0.001", "shed_target = 0.0", "admission.shed_target"),
    _project_case("shed_target inf", "shed_target = 0.001", "shed_target = inf", "admission.shed_target", "finite"),
    # --- [[bucket]] -------------------------------------------------------------------------------
    _project_case("r_prefill inf", "r_prefill = 40000.0", "r_prefill = inf", "bucket[0].r_prefill", "finite"),
    _project_case("r_decode nan", "r_decode = 280.0", "r_decode = nan", "bucket[0].r_decode", "finite"),
    _project_case("r_decode zero", "r_decode = 280.0", "r_decode = 0.0", "bucket[0].r_decode"),
    _project_case("l_fixed_ms inf", "l_fixed_ms = 30.0", "l_fixed_ms = inf", "bucket[0].l_fixed_ms", "finite"),
    _project_case("l_fixed_ms negative", "l_fixed_ms = 30.0", "l_fixed_ms = -30.0", "bucket[0].l_fixed_ms"),
    _project_case("slots 1e9", "slots = 16", "slots = 1e9", "bucket[0].slots", "100,000", "Limits"),
    _project_case("slots zero", "slots = 16", "slots = 0", "bucket[0].slots"),
    _project_case("slots fraction", "slots = 16", "slots = 1.5", "bucket[0].slots", "1.5"),
    _project_case("max_output_tokens 1e12", "max_output_tokens = 1024", "max_output_tokens = 1000000000000",
                  "bucket[0].max_output_tokens", "10,000,000"),
    _project_case("max_prompt_tokens 0", "max_prompt_tokens = 512", "max_prompt_tokens = 0", "bucket[0].max_prompt_tokens"),
    _project_case("chips_per_replica 0", "chips_per_replica = 576", "chips_per_replica = 0", "bucket[0].chips_per_replica"),
    _project_case("slo_p99_ms inf", 'name = "p512"', 'name = "p512"\nslo_p99_ms = inf', "bucket[0].slo_p99_ms", "finite"),
    _project_case("bucket order", "max_prompt_tokens = 2048", "max_prompt_tokens = 256", "bucket", "increasing"),
    _project_case("sources unknown field", 'sources = { r_decode', 'sources = { speed', "bucket[0].sources", "speed"),
    # --- [hardware], [facility] -------------------------------------------------------------------
    _project_case("rack_power_budget_kw inf", "rack_power_budget_kw = 30.0", "rack_power_budget_kw = inf",
                  "facility.rack_power_budget_kw", "finite"),
    _project_case("node power nan", "typical = 2.4", "typical = nan", "facility.node_power_kw.typical"),
    _project_case("node power order", "typical = 2.4, max = 3.3", "typical = 3.4, max = 3.3", "facility.node_power_kw", "typical"),
    _project_case("feed voltage inf", "voltage = 415.0", "voltage = inf", "facility.feed.voltage", "finite"),
    _project_case("feed phases 2", "phases = 3", "phases = 2", "facility.feed.phases"),
    _project_case("cooling unit_kw negative", "unit_kw = 150.0", "unit_kw = -150.0", "facility.cooling.unit_kw"),
    _project_case("supply nan", "row_kw = 1800.0", "row_kw = nan", "facility.supply.row_kw"),
    _project_case("rows zero", "rows = 4", "rows = 0", "facility.rows"),
    _project_case("rows 1e9", "rows = 4", "rows = 1000000000", "facility", "rows = 1000000000", "100,000"),
    _project_case("cooling unit_kw huge", "unit_kw = 150.0", "unit_kw = 1e12", "facility.cooling", "unit_kw", "Limits"),
    _project_case("spares >= nodes", "spare_nodes_per_rack = 1", "spare_nodes_per_rack = 9", "facility", "spare_nodes_per_rack"),
    _project_case("override nan", 'precision = "int8"\n\n[facility]', 'precision = "int8"\noverride = { rack_power_kw = nan }\n\n[facility]',
                  "hardware", "override.rack_power_kw", "finite"),
    _project_case("usable_sram_fraction 2", 'precision = "int8"\n\n[facility]', 'precision = "int8"\nusable_sram_fraction = 2.0\n\n[facility]',
                  "hardware.usable_sram_fraction"),
    # --- the file itself --------------------------------------------------------------------------
    _project_case("not TOML", "[slo]", "[slo", "FILE", "TOML"),
    Case("missing project file", ("validate", "{T}/nowhere.toml"), ("FILE", "no such file")),
    Case("project not UTF-8", ("validate", "{T}/latin.toml"), ("FILE", "cannot read"), files={"latin.toml": b"name = \"caf\xe9\"\n"}),
    # --- trace CSV --------------------------------------------------------------------------------
    _project_case("trace missing", _DISTRIBUTIONS, _TRACE, "workload.trace", "no such trace file"),
    _project_case("trace latin-1", _DISTRIBUTIONS, _TRACE, "workload.trace", "t.csv", "byte offset 46", "line 4", "UTF-8",
                  files={"t.csv": _LATIN1_TRACE}),
    _project_case("trace UTF-16", _DISTRIBUTIONS, _TRACE, "workload.trace", "UTF-16", "CSV UTF-8",
                  files={"t.csv": "prompt_tokens,output_tokens\n100,10\n".encode("utf-16")}),
    _project_case("trace nan row", _DISTRIBUTIONS, _TRACE, "workload.trace line 3", "finite",
                  files={"t.csv": "prompt_tokens,output_tokens\n100,10\nnan,5\n"}),
    _project_case("trace is a folder", _DISTRIBUTIONS, 'trace = "."\nassumed = ["lambda_peak"]', "workload.trace", "folder"),
    _project_case("trace no column", _DISTRIBUTIONS, _TRACE, "workload.trace", "prompt_tokens",
                  files={"t.csv": "prompt,output\n100,10\n"}),
    Case("trace with Excel BOM is accepted", ("validate", "{P}"), ("valid",), {_DISTRIBUTIONS: _TRACE},
         {"t.csv": b"\xef\xbb\xbfprompt_tokens,output_tokens\r\n100,10\r\n700,200\r\n"}, code=0),
    # --- profile JSON (through a bucket, and through `profile show`) ------------------------------
    _project_case("profile Infinity", 'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\n' + _PROFILED_BUCKET,
                  'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\nprofile = "p.json"\n\n[[bucket]]\nname = "p2048"',
                  "bucket[0].profile", "fit.r_decode.value", "inf", files={"p.json": _profile(**{"r_decode.value": float("inf")})}),
    _project_case("profile prefill above limit", 'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\n' + _PROFILED_BUCKET,
                  'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\nprofile = "p.json"\n\n[[bucket]]\nname = "p2048"',
                  "bucket[0].profile", "fit.r_prefill", "Limits",
                  files={"p.json": _profile(**{"r_prefill.0.value": 2e9, "r_prefill.0.ci95": [2e9, 2e9]})}),
    _project_case("profile missing", 'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\n' + _PROFILED_BUCKET,
                  'name = "p512"\nmax_prompt_tokens = 512\nmax_output_tokens = 1024\nprofile = "p.json"\n\n[[bucket]]\nname = "p2048"',
                  "bucket[0].profile", "no such file"),
    Case("profile show NaN ci", ("profile", "show", "{T}/p.json"), ("FILE", "fit.l_fixed_s.ci95"),
         files={"p.json": _profile(**{"l_fixed_s.ci95": [float("nan"), 0.031]})}),
    Case("profile show schema", ("profile", "show", "{T}/p.json"), ("FILE.schema", "lpuplan.profile/1"),
         files={"p.json": json.dumps({"schema": "other/9"})}),
    Case("profile show not JSON", ("profile", "show", "{T}/p.json"), ("FILE", "JSON"), files={"p.json": "{not json"}),
    Case("profile show interval", ("profile", "show", "{T}/p.json"), ("FILE", "ci95", "contain"),
         files={"p.json": _profile(**{"r_decode.ci95": [1.0, 2.0]})}),
    # --- flags ------------------------------------------------------------------------------------
    Case("queue rate inf", ("queue", "--rate", "inf", "--service-ms", "10", "--servers", "2"), ("--rate", "inf", "finite")),
    Case("queue rate nan", ("queue", "--rate", "nan", "--service-ms", "10", "--servers", "2"), ("--rate", "nan")),
    Case("queue service nan", ("queue", "--rate", "1", "--service-ms", "nan", "--servers", "2"), ("--service-ms",)),
    Case("queue servers 0", ("queue", "--rate", "1", "--service-ms", "10", "--servers", "0"), ("--servers",)),
    Case("queue servers 1e9 text", ("queue", "--rate", "1", "--service-ms", "10", "--servers", "1e9"), ("--servers",)),
    Case("queue capacity < servers", ("queue", "--rate", "1", "--service-ms", "10", "--servers", "4", "--capacity", "2"), ("--capacity",)),
    Case("queue rate text", ("queue", "--rate", "fast", "--service-ms", "10", "--servers", "2"), ("--rate",)),
    Case("simulate jitter nan", ("simulate", "{P}", "--jitter", "nan"), ("--jitter", "nan")),
    Case("simulate jitter negative", ("simulate", "{P}", "--jitter", "-1"), ("--jitter",)),
    Case("simulate requests 0", ("simulate", "{P}", "--requests", "0"), ("--requests",)),
    Case("simulate duration inf", ("simulate", "{P}", "--duration", "inf"), ("--duration", "inf")),
    Case("simulate rate nan", ("simulate", "{P}", "--rate", "nan"), ("--rate", "nan")),
    Case("simulate interval inf", ("simulate", "{P}", "--interval", "inf"), ("--interval",)),
    Case("simulate work cap nan", ("simulate", "{P}", "--work-cap-ms", "nan"), ("--work-cap-ms",)),
    Case("bench timeout nan", ("bench", "--backend", "mock", "-o", "{T}/p.json", "--timeout-s", "nan"), ("--timeout-s", "nan")),
    Case("bench timeout 0", ("bench", "--backend", "mock", "-o", "{T}/p.json", "--timeout-s", "0"), ("--timeout-s",)),
    Case("bench backend", ("bench", "--backend", "gpu", "-o", "{T}/p.json"), ("--backend", "gpu")),
    Case("import l_fixed inf", ("profile", "import", "{T}/x.json", "-o", "{T}/p.json", "--from", "blis", "--l-fixed-ms", "inf"),
         ("--l-fixed-ms", "inf")),
    Case("import format", ("profile", "import", "{T}/x.json", "-o", "{T}/p.json", "--from", "csv"), ("--from", "csv")),
    Case("gameday abort factor nan", ("gameday", "predict", "{P}", "--abort-p99-factor", "nan"), ("--abort-p99-factor",)),
    Case("emulate time scale inf", ("emulate", "{P}", "--time-scale", "inf"), ("--time-scale", "inf")),
    Case("load rate nan", ("load", "http://127.0.0.1:9/v1", "--rate", "nan", "--shape", "100:10"), ("--rate", "nan")),
    Case("load timeout inf", ("load", "http://127.0.0.1:9/v1", "--rate", "1", "--timeout-s", "inf"), ("--timeout-s", "inf")),
    Case("load time scale 0", ("load", "http://127.0.0.1:9/v1", "--rate", "1", "--shape", "100:10", "--time-scale", "0"),
         ("--time-scale",)),
    Case("fidelity time scale nan", ("fidelity", "http://127.0.0.1:9/v1", "--shape", "100:10", "--time-scale", "nan"),
         ("--time-scale", "nan")),
    # --- output paths -----------------------------------------------------------------------------
    Case("load out is a file", ("load", "http://127.0.0.1:9/v1", "--rate", "1", "--shape", "100:10", "--out", "{T}/f"),
         ("--out", "is a file"), files={"f": "x"}),
    Case("fidelity out is a folder", ("fidelity", "http://127.0.0.1:9/v1", "--shape", "100:10", "--out", "{T}"),
         ("--out", "is a folder")),
    Case("plan out is a file", ("plan", "{P}", "--out", "{T}/f"), ("--out", "is a file"), files={"f": "x"}),
    Case("plan out under a file", ("plan", "{P}", "--out", "{T}/f/sub"), ("--out", "not a folder"), files={"f": "x"}),
    Case("plan out holds foreign files", ("plan", "{P}", "--out", "{T}/mine"), ("--out", "notes.txt"), files={"mine/notes.txt": "x"}),
    Case("plan out is cwd-like root", ("plan", "{P}", "--out", "/"), ("--out", "folder of its own")),
    Case("facility out is a file", ("facility", "{P}", "--out", "{T}/f"), ("--out", "is a file"), files={"f": "x"}),
    Case("facility graph is a folder", ("facility", "{P}", "--graph", "{T}"), ("--graph", "is a folder")),
    Case("simulate out is a file", ("simulate", "{P}", "--out", "{T}/f"), ("--out", "is a file"), files={"f": "x"}),
    Case("gameday out is a file", ("gameday", "predict", "{P}", "--out", "{T}/f"), ("--out", "is a file"), files={"f": "x"}),
    Case("bench output is a folder", ("bench", "--backend", "mock", "-o", "{T}"), ("--output", "is a folder")),
    Case("bench samples is a folder", ("bench", "--backend", "mock", "-o", "{T}/p.json", "--samples", "{T}"), ("--samples", "folder")),
    Case("profile png is a folder", ("profile", "show", "{T}/p.json", "--png", "{T}"), ("--png", "is a folder"),
         files={"p.json": _profile()}),
    Case("import output is a folder", ("profile", "import", "{T}/x.json", "-o", "{T}", "--from", "blis"), ("--output", "is a folder")),
    Case("init into a file", ("init", "{T}/f"), ("DIRECTORY", "is a file"), files={"f": "x"}),
]


def _materialise(case: Case, folder: Path) -> list[str]:
    text = example_project_text()
    for old, new in case.replace.items():
        assert old in text, f"{case.id}: {old!r} is not in the example"
        text = text.replace(old, new, 1)
    (folder / "lpuplan.toml").write_text(text)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return [arg.replace("{P}", str(folder / "lpuplan.toml")).replace("{T}", str(folder)) for arg in case.argv]


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {c.argv[0] for c in CASES}
    assert {"validate", "queue", "simulate", "bench", "profile", "plan", "facility", "gameday", "emulate", "init", "load",
            "fidelity"} <= commands


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_answered_as_promised(case, tmp_path):
    argv = _materialise(case, tmp_path)
    result = runner.invoke(app, argv)
    output = result.output
    assert result.exit_code == case.code, f"{case.id}: exit {result.exit_code}\n{output}"
    assert "Traceback" not in output and "unexpected error" not in output, output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{case.id}: raised {result.exception!r}")
    for fragment in case.named:
        assert fragment in output, f"{case.id}: {fragment!r} not in\n{output}"


_REAL = ["lambda_peak inf", "trace latin-1", "plan out is a file", "queue rate nan"]


@pytest.mark.parametrize("case_id", _REAL)
def test_a_real_process_sees_the_same_answer(case_id, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    argv = _materialise(case, tmp_path)
    done = subprocess.run([sys.executable, "-m", "lpuplan.cli", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == case.code, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    for fragment in case.named:
        assert fragment in done.stderr
