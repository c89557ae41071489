"""The plan's simulated figures: the simulator referees what has no exact formula."""

from pathlib import Path

from dimensioning.simulate.estimates import simulate_pool_latency
from lpuplan.plan import build_plan
from lpuplan.project import load_project

WIDE_MIX = Path(__file__).with_name("wide_mix.toml")


def test_the_simulator_adds_shared_replicas_where_mgc_runs_low():
    # 80% of requests take ~0.1 s, 20% take ~3.8 s, one slot per replica: a wide
    # mixture, where the M/G/c approximation's p99 is known to run low
    project = load_project(WIDE_MIX)
    plan = build_plan(project, simulate=True, place=False)
    shared = plan.simulated.shared_pool
    assert plan.shared.method == "simulated"  # MGc with c > 1 is decided by simulation (queuecore)
    assert shared["replicas_from_approximation"] == plan.shared.replicas
    assert shared["within_slo"] is True
    assert shared["replicas"] >= plan.shared.replicas
    if shared["replicas"] > plan.shared.replicas:
        # one replica fewer really misses: the same seeded simulation, independently re-run
        buckets = list(project.buckets)
        rates = [b.traffic.arrival_rate for b in plan.dedicated]
        shares = [r / sum(rates) for r in rates]
        est = simulate_pool_latency(buckets, plan.shared.arrival_rate, shared["replicas"] - 1, shares=shares,
                                    seed=shared["seed"])
        slo = {v.name: v.slo_s for v in plan.shared.buckets}
        assert any(est.bucket_latency_p99_s[name].high > slo[name] for name in slo)


def test_plan_figures_are_labelled_simulated_with_intervals():
    plan = build_plan(load_project(WIDE_MIX), simulate=True, place=False)
    expected = plan.simulated.expected_with_real_outputs
    assert expected["method"] == "simulated"
    for row in expected["buckets"].values():
        low, high = row["latency_p99_s_ci95"]
        assert low <= row["latency_p99_s"] <= high


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
