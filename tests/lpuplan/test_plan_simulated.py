"""The plan's simulated figures: the simulator referees what has no exact formula."""

import dataclasses
from pathlib import Path

from dimensioning.pool import evaluate_pool
from dimensioning.queueing import MDc
from lpuplan.plan import build_plan, size_project
from lpuplan.plan_simulated import shared_pool_referee_skip, simulate_plan
from lpuplan.project import load_project
from tests.independent_queue import class_latency_quantile

WIDE_MIX = Path(__file__).with_name("wide_mix.toml")


def _independent_shared(plan, replicas, seed):
    """Per-bucket p99 latency intervals of the shared pool by the independent queue (not the project's simulator)."""
    shared = plan.shared
    times = [v.service_s for v in shared.buckets]
    shares = [v.share_of_served for v in shared.buckets]
    return dict(zip((v.name for v in shared.buckets),
                    class_latency_quantile(shared.arrival_rate, times, shares, replicas * shared.slots, 1.0, 0.99,
                                           400_000, seed)))


def test_the_shared_pool_meets_its_slos_in_an_independent_simulation_and_one_replica_less_does_not():
    # 80% of requests take ~0.1 s, 20% take ~3.8 s, one slot per replica: a wide mixture
    project = load_project(WIDE_MIX)
    plan = build_plan(project, simulate=True, place=False)
    assert plan.shared.method == "simulated"  # MGc with c > 1: decided by simulation at the conservative end
    # the sizing's figure is already simulated: no second simulation of the same model, and the plan says so
    assert plan.simulated.shared_pool is None
    assert any(r.startswith("shared pool: no referee") and "simulated" in r for r in plan.simulated.skipped)
    n = plan.shared.replicas
    slo = {v.name: v.slo_s for v in plan.shared.buckets}
    at_n = _independent_shared(plan, n, seed=7)
    assert all(at_n[name].low <= slo[name] for name in slo), at_n
    # one replica less: the plan's own (conservative) figure misses, and independently the pool is
    # close to its SLO (the simulated M/G/c reports the upper end of its interval, so N may exceed the
    # least that an exact answer would give by the interval's width, here at most one replica)
    one_less = _independent_shared(plan, n - 1, seed=8)
    assert any(one_less[name].value > 0.85 * slo[name] for name in slo), one_less
    assert not evaluate_pool(plan.shared.pool, n - 1, degraded=False).passed


def test_the_shared_sizing_checks_the_degraded_state_too(tmp_path):
    text = WIDE_MIX.read_text().replace("replicas_lost_worst = 0", "replicas_lost_worst = 1")
    (tmp_path / "p.toml").write_text(text)
    plan = build_plan(load_project(tmp_path / "p.toml"), simulate=True, place=False)
    shared = plan.shared
    assert shared.verdict_degraded is not None and shared.verdict_degraded.passed
    assert shared.verdict_degraded.replicas_operational == shared.replicas - 1
    assert plan.simulated.shared_pool is None
    # independently: with one replica down the pool still meets every SLO
    at_degraded = _independent_shared(plan, shared.replicas - 1, seed=9)
    assert all(at_degraded[v.name].low <= v.slo_s for v in shared.buckets)


def _approximated(verdict):
    """``verdict`` with its p99 figures relabelled as an approximation without a safe margin."""
    checks = tuple(dataclasses.replace(c, kind="approximation") if c.constraint == "e2el_p99" else c
                   for c in verdict.checks)
    return dataclasses.replace(verdict, checks=checks)


def test_the_simulator_referees_the_shared_pool_where_a_deciding_figure_is_an_approximation(tmp_path):
    # no queue model gives the shared pool an unsafe figure today; one that did must still be refereed
    text = WIDE_MIX.read_text().replace("replicas_lost_worst = 0", "replicas_lost_worst = 1")
    (tmp_path / "p.toml").write_text(text)
    project = load_project(tmp_path / "p.toml")
    _, _, dedicated, shared = size_project(project)
    assert shared_pool_referee_skip(shared) is not None
    unsafe = dataclasses.replace(shared, verdict_normal=_approximated(shared.verdict_normal),
                                 verdict_degraded=_approximated(shared.verdict_degraded))
    assert {state for state, _ in unsafe.unsafe_figures} == {"normal", "degraded"}
    assert shared_pool_referee_skip(unsafe) is None
    figures = simulate_plan(project, dedicated, unsafe, requests=200_000).shared_pool
    assert figures is not None and figures["within_slo"] is True
    assert figures["replicas"] >= shared.replicas and figures["replicas_from_approximation"] == shared.replicas
    degraded = figures["degraded"]
    assert degraded is not None and all(row["within_slo"] for row in degraded["buckets"].values())


def test_the_expected_latency_with_deterministic_outputs_matches_the_exact_md_c():
    # every output is 2000 tokens, above both caps: each request takes its bucket bound, so the
    # simulated p99 of each dedicated pool must agree with the exact M/D/c p99 (an independent route)
    plan = build_plan(load_project(WIDE_MIX), simulate=True, place=False)
    expected = plan.simulated.expected_with_real_outputs
    assert expected["method"] == "simulated"
    for sizing in plan.dedicated:
        row = expected["buckets"][sizing.name]
        exact = MDc(sizing.traffic.arrival_rate, sizing.service.total_s, sizing.replicas * sizing.slots).sojourn.ppf(0.99)
        low, high = row["latency_p99_s_ci95"]
        # one seed's 95% interval misses 1 time in 20: allow twice its half-width (a miss then means a bias)
        half = (high - low) / 2
        assert low - half <= exact <= high + half, (sizing.name, low, exact, high)


def test_a_trace_workload_is_simulated_from_its_own_rows(tmp_path):
    # every output in the trace is 10 tokens, below the 16-token cap: with FCFS,
    # shorter services never lengthen a wait, so the simulated p99 lies between
    # the bare service time with 10 tokens and the exact M/D/c p99 at the bound
    rows = "".join(f"{300 + (i % 200)},10\n" for i in range(500))
    (tmp_path / "req.csv").write_text("prompt_tokens,output_tokens\n" + rows)
    text = WIDE_MIX.read_text().replace(
        'prompt_tokens = { histogram = [[512, 0.8], [2048, 0.2]] }\noutput_tokens = { distribution = "constant", value = 2000 }',
        'trace = "req.csv"',
    )
    (tmp_path / "p.toml").write_text(text)
    plan = build_plan(load_project(tmp_path / "p.toml"), simulate=True, place=False, seed=5)
    expected = plan.simulated.expected_with_real_outputs
    assert "rows of the trace" in expected["note"]
    p512 = next(b for b in plan.project.buckets if b.max_prompt_tokens == 512)
    short = p512.max_prompt_tokens / p512.r_prefill + 10 / p512.r_decode + p512.l_fixed_s
    row = expected["buckets"][p512.label]
    exact_at_bound = next(b.normal.latency_p99_s for b in plan.dedicated if b.name == p512.label)
    assert short <= row["latency_p99_s"]
    assert row["latency_p99_s_ci95"][0] <= exact_at_bound


def test_simulated_mean_latency_matches_the_analytic_mean_service_time():
    # independent routes to the same figure: the sizing's closed-form
    # E[min(O, cap)] of the lognormal against sampled outputs in the simulator
    # (the example's pools almost never queue: P(wait) < 1e-5)
    import tomllib

    from lpuplan.project import example_project_text, parse_project

    project = parse_project(tomllib.loads(example_project_text()), Path.cwd())
    plan = build_plan(project, simulate=True, place=False)
    rows = plan.simulated.expected_with_real_outputs["buckets"]
    for sizing, bucket in zip(plan.dedicated, project.buckets):
        low, high = rows[sizing.name]["latency_mean_s_ci95"]
        assert sizing.normal.prob_wait < 1e-5
        # the simulator rounds sampled counts up to whole tokens: +0.5 token on
        # average for every output below the cap; the sizing's lognormal is continuous
        rounding = 0.5 * (1 - sizing.traffic.output_capped_share) / bucket.r_decode
        expected = sizing.service.mean_s + rounding
        # the interval, widened by the exact M/D/c mean wait at the bound (an upper bound on queueing)
        assert low <= expected <= high + sizing.normal.wait_mean_s + 1e-9, sizing.name
