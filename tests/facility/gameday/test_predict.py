"""Prediction per failure domain on a small site worked by hand (conftest)."""

from __future__ import annotations

import json
import math

import pytest

from dimensioning.errors import InvalidInput
from dimensioning.json_text import dumps_json
from facility.gameday.blast import blast_radius, domains_at_level
from facility.gameday.document import prediction_document
from facility.gameday.metrics import MetricMap
from lpuplan.plan_gameday import gameday_pools, predict_plan


def test_pools_carry_the_sizings_figures(small_plan) -> None:
    pools = gameday_pools(small_plan)
    chat = pools["chat"]
    assert chat.replicas == 8
    assert chat.service_time_s == pytest.approx(512 / 20000 + 256 / 256 + 0.020)
    assert chat.ttft_offset_s == pytest.approx(0.020 + 512 / 20000 + 1 / 256)
    assert chat.queue_cap == 8  # slots x (floor(2.5 / 1.0456) - 1)
    assert chat.arrival_rate == pytest.approx(40.0)


def test_blast_radius_of_a_rack_a_pod_and_a_pdu(small_plan) -> None:
    facility = small_plan.facility
    racks = domains_at_level(facility, "rack")
    assert len(racks) == 8
    rack = blast_radius(facility, racks[0])
    assert rack.replicas_lost == 1 and rack.chips_lost == 64 and rack.racks == (racks[0],)
    assert rack.signature() == (("chat", 1),)
    pod = blast_radius(facility, "row01-pod01")
    assert pod.replicas_lost == 4 and pod.chips_lost == 256 and len(pod.racks) == 6  # every rack of the pod, empty ones too
    pdu = blast_radius(facility, f"{racks[0]}-pdu-A")
    assert pdu.replicas_lost == 0
    assert pdu.feed is not None
    # the B side carries the whole rack: 8 compute nodes + 1 powered spare? the facility says which
    rack_power = next(r for r in facility.racks if r.rack == racks[0])
    assert pdu.feed.load_kw == pytest.approx(rack_power.max_kw)
    assert pdu.feed.limit_kw == pytest.approx(facility.layout.feed_usable_kw)


def test_unknown_domain_names_the_option_and_a_fix(small_plan, fast_settings) -> None:
    with pytest.raises(InvalidInput) as err:
        predict_plan(small_plan, domains=["rack:row09-pod01-rack01"], settings=fast_settings, workers=1)
    assert err.value.field == "--domain" and "rack:" in err.value.fix


def test_rack_loss_holds_and_pod_loss_does_not(small_plan, fast_settings) -> None:
    rack, pod = predict_plan(small_plan, domains=["rack:row01-pod01-rack01", "pod:row01-pod01"],
                             settings=fast_settings, workers=1)
    assert rack.go and rack.slo_holds and rack.margin_s > 0
    (p,) = rack.pools
    assert p.lost == 1 and p.degraded.utilization == pytest.approx(40 * 1.0456 / 56)
    # lambda x failover x k/N with the default 15 s failover
    assert p.expected_lost_failover == pytest.approx(40 * 15 / 8)
    assert not pod.go and not pod.slo_holds
    assert any("shed" in r for r in pod.reasons())
    fired = {a.name for a in pod.aborts if a.predicted_to_fire}
    assert "shed_rate" in fired
    # every abort condition shows its margin as threshold minus prediction (safe direction)
    for a in rack.aborts:
        expected = a.threshold - a.predicted if a.direction == "above" else a.predicted - a.threshold
        assert a.margin == pytest.approx(expected)


def test_domains_with_one_loss_share_one_prediction(small_plan, fast_settings) -> None:
    predictions = predict_plan(small_plan, level="rack", settings=fast_settings, workers=1)
    assert len(predictions) == 8
    first = predictions[0].pools[0]
    assert all(d.pools[0] is first for d in predictions)


def test_same_seed_same_document_in_process_or_in_processes(small_plan, fast_settings) -> None:
    one = predict_plan(small_plan, domains=["row01-pod01-rack01"], settings=fast_settings, workers=1)
    two = predict_plan(small_plan, domains=["row01-pod01-rack01"], settings=fast_settings, workers=2)
    a = dumps_json(prediction_document(one, fast_settings, MetricMap()))
    b = dumps_json(prediction_document(two, fast_settings, MetricMap()))
    assert a == b
    doc = json.loads(a)
    assert doc["schema"] == "lpuplan.gameday/2"
    assert set(doc["pool_predictions"]) == {"chat:1"}
    assert doc["domains"][0]["verdict"] == "GO"


def test_failover_phase_shows_the_lost_share_and_recovery(small_plan, fast_settings) -> None:
    (rack,) = predict_plan(small_plan, domains=["row01-pod01-rack01"], settings=fast_settings, workers=1)
    p = rack.pools[0]
    failover = p.phases["failover"]
    # 1 of 8 arrivals goes to the dead replica for the whole window, plus the in-flight loss at t0
    assert failover["error_rate"].mean == pytest.approx(1 / 8, abs=0.06)
    assert p.phases["degraded"]["error_rate"].hi == 0.0
    assert p.phases["before"]["shed_rate"].hi == 0.0
    assert math.isfinite(p.recovered_after_s.mean)
