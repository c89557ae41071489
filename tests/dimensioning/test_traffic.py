"""Traffic split: bucket shares, unserved share, per-bucket outputs, traces."""

import pytest

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket, TokenDistribution, Workload
from dimensioning.traffic import read_trace, split_traffic


def _bucket(edge, cap=512):
    return Bucket(max_prompt_tokens=edge, max_output_tokens=cap, r_prefill=1e4, r_decode=100.0, l_fixed_ms=10.0)


def test_histogram_shares_are_exact():
    workload = Workload(
        lambda_peak=100.0,
        prompt_tokens=TokenDistribution(histogram=((512, 0.5), (1024, 0.3), (4096, 0.2))),
        output_tokens=TokenDistribution(distribution="constant", value=100),
    )
    split = split_traffic(workload, [_bucket(512), _bucket(2048)])
    assert [b.share for b in split.buckets] == pytest.approx([0.5, 0.3 + 0.2 * (1024 / 3072)])
    assert split.share_unserved == pytest.approx(0.2 * 2048 / 3072)
    assert sum(b.share for b in split.buckets) + split.share_unserved == pytest.approx(1.0)
    assert split.buckets[0].arrival_rate == pytest.approx(50.0)
    # mean prompt in (0, 512] under a uniform bin is 256
    assert split.buckets[0].prompt_mean == pytest.approx(256.0)


def test_outputs_cut_at_the_cap():
    workload = Workload(
        lambda_peak=10.0,
        prompt_tokens=TokenDistribution(distribution="constant", value=100),
        output_tokens=TokenDistribution(histogram=((100, 0.5), (300, 0.5))),
    )
    split = split_traffic(workload, [_bucket(512, cap=200)])
    # bin (100, 300] holds half the outputs uniformly, so a quarter lie above 200
    assert split.buckets[0].output_capped_share == pytest.approx(0.25)
    assert split.buckets[0].output_mean == pytest.approx(0.5 * 50 + 0.25 * 150 + 0.25 * 200)


def test_trace_keeps_the_joint_shape(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("prompt_tokens,output_tokens,timestamp\n100,10,0\n200,20,0.5\n900,400,1\n5000,1,2\n")
    workload = Workload(lambda_peak=8.0, trace=trace)
    split = split_traffic(workload, [_bucket(512, cap=1000), _bucket(1024, cap=300)])
    assert [b.share for b in split.buckets] == [0.5, 0.25]
    assert split.share_unserved == 0.25
    assert split.buckets[0].output_mean == 15.0
    assert split.buckets[1].output_mean == 300.0 and split.buckets[1].output_capped_share == 1.0
    assert split.buckets[1].arrival_rate == 2.0


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("prompt,output\n1,2\n", "no column 'prompt_tokens'"),
        ("prompt_tokens,output_tokens\n1,x\n", "must be numbers"),
        ("prompt_tokens,output_tokens\n0,5\n", "prompt_tokens > 0"),
        ("prompt_tokens,output_tokens,timestamp\n1,5,3\n1,5,2\n", "must not decrease"),
        ("prompt_tokens,output_tokens\n", "no rows"),
    ],
)
def test_bad_traces_name_the_problem(tmp_path, text, fragment):
    trace = tmp_path / "bad.csv"
    trace.write_text(text)
    with pytest.raises(InvalidInput, match=fragment) as info:
        read_trace(trace)
    assert info.value.field.startswith("workload.trace")
