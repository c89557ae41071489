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


# --- encodings (issue 12 item 7): UTF-8 with or without BOM; anything else named with file and byte offset ---

_ROWS = "prompt_tokens,output_tokens,timestamp\r\n100,10,0\r\n900,400,1\r\n"


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"], ids=["utf-8", "utf-8 with BOM (Excel CSV UTF-8)"])
def test_utf8_traces_are_read_with_or_without_a_byte_order_mark(tmp_path, prefix):
    trace = tmp_path / "t.csv"
    trace.write_bytes(prefix + _ROWS.encode("utf-8"))
    read = read_trace(trace)
    assert read.prompt_tokens.tolist() == [100.0, 900.0] and read.timestamps.tolist() == [0.0, 1.0]


def test_a_latin1_trace_is_named_with_its_byte_offset_and_line(tmp_path):
    trace = tmp_path / "caf\u00e9.csv"
    text = "prompt_tokens,output_tokens,comment\n100,10,ok\n200,20,caf\u00e9\n"
    trace.write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    with pytest.raises(InvalidInput) as info:
        read_trace(trace)
    message = str(info.value)
    assert info.value.field == "workload.trace" and str(trace) in message
    assert f"byte offset {offset}" in message and "line 3" in message and "0xe9" in message and "UTF-8" in message


def test_the_offset_counts_the_byte_order_mark(tmp_path):
    trace = tmp_path / "t.csv"
    data = b"\xef\xbb\xbfprompt_tokens,output_tokens\n1\xff,2\n"
    trace.write_bytes(data)
    offset = data.index(b"\xff")  # 32: the mark's 3 bytes count
    with pytest.raises(InvalidInput, match=f"byte offset {offset} "):
        read_trace(trace)


@pytest.mark.parametrize("encoding, name", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_and_utf32_traces_say_how_to_save_them(tmp_path, encoding, name):
    trace = tmp_path / "t.csv"
    trace.write_bytes(_ROWS.encode(encoding))
    with pytest.raises(InvalidInput, match=f"is {name}.*CSV UTF-8"):
        read_trace(trace)


def test_a_missing_trace_is_named_as_missing(tmp_path):
    with pytest.raises(InvalidInput, match="no such trace file") as info:
        read_trace(tmp_path / "nowhere.csv")
    assert str(tmp_path / "nowhere.csv") in str(info.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("prompt_tokens,output_tokens\n100,inf\n", "finite"),
        ("prompt_tokens,output_tokens\nnan,1\n", "finite"),
        ("prompt_tokens,output_tokens\n1e12,1\n", "at most 10,000,000"),
        ("prompt_tokens,output_tokens\n1,\x002\n", "line 2"),
    ],
)
def test_non_finite_huge_and_binary_rows_are_refused_with_the_row(tmp_path, text, fragment):
    trace = tmp_path / "t.csv"
    trace.write_text(text)
    with pytest.raises(InvalidInput, match=fragment):
        read_trace(trace)


def test_spaces_around_column_names_are_forgiven(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text(" prompt_tokens , output_tokens \n100,10\n")
    assert read_trace(trace).output_tokens.tolist() == [10.0]


def test_the_simulators_trace_replay_reads_the_same_encodings(tmp_path):
    from dimensioning.simulate.arrivals import load_trace

    trace = tmp_path / "a.csv"
    trace.write_bytes(b"\xef\xbb\xbftimestamp,prompt_tokens,output_tokens\r\n0,100,10\r\n1,200,20\r\n")
    assert load_trace(trace).prompt_tokens.tolist() == [100, 200]
    trace.write_bytes("timestamp,prompt_tokens,output_tokens\n0,100,10\n1,200,20 \u00e9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="byte offset 56 ") as info:
        load_trace(trace)
    assert info.value.field == "arrivals.trace"
