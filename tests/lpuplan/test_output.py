"""Output files: atomic one by one and as a set, the user's umask, failures named.

The set promise (issue 12 item 4) is tested with real SIGKILLs of a real
``lpuplan plan --out DIR`` process at moments spread over its run: after each
kill the folder holds the previous set or the new set, whole, never a mixture;
the next run removes what the killed ones left.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lpuplan import output
from lpuplan.cli import app
from lpuplan.output import SET_MANIFEST, OutputPathError, check_output_file, check_output_set, output_set, write_atomic
from lpuplan.project import example_project_text

runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    beside = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    inside = [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")] if folder.exists() else []
    return beside + inside


# --- one file ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_and_sets_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        written = write_atomic(tmp_path / "one.json", "{}")
        with output_set(tmp_path / "set") as staging:
            write_atomic(staging / "sub" / "a.txt", "a")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "set" / "sub" / "a.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "set").stat().st_mode) == 0o777 & ~mask


def test_a_stale_tmp_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".profile.json.0123456789ab.tmp"
    stale.write_text("half")
    write_atomic(tmp_path / "profile.json", "{}")
    assert not stale.exists() and (tmp_path / "profile.json").read_text() == "{}"


def test_a_live_writers_tmp_file_is_left_alone(tmp_path):
    import fcntl

    live = tmp_path / ".profile.json.0123456789ab.tmp"
    live.write_text("in progress")
    with open(live) as handle:  # another process would hold this lock while it writes
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        pid = os.fork()
        if pid == 0:  # the cleaner runs in another process: flock locks are per open file
            try:
                write_atomic(tmp_path / "profile.json", "{}")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    assert live.exists()


def test_a_full_disk_is_named_with_the_option_and_the_path(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    with pytest.raises(OutputPathError) as info:
        write_atomic(tmp_path / "p.json", "{}", option="--output")
    assert info.value.field == "--output" and str(tmp_path / "p.json") == info.value.value
    assert "ENOSPC" in info.value.fix
    assert list(tmp_path.iterdir()) == []  # no temporary file left


# --- checks before work -----------------------------------------------------------------------

def test_output_checks_name_the_option(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    cases = [
        (check_output_set, "--out", tmp_path / "file", "is a file"),
        (check_output_set, "--out", tmp_path / "file" / "sub", "is a file, not a folder"),
        (check_output_set, "--out", tmp_path / "theirs", "notes.txt"),
        (check_output_file, "-o", tmp_path / "folder", "is a folder"),
        (check_output_file, "--graph", tmp_path / "file" / "g.graphml", "is a file, not a folder"),
    ]
    for check, option, path, words in cases:
        with pytest.raises(OutputPathError) as info:
            check(option, path)
        assert info.value.field == option and words in info.value.fix, (path, info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere; the read-only case is covered by the probe")
def test_an_unwritable_folder_is_refused_before_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputPathError, match="cannot write"):
        check_output_set("--out", locked / "out")


# --- a set ------------------------------------------------------------------------------------

def test_a_set_replaces_the_previous_one_whole_and_a_failed_run_leaves_it(tmp_path):
    target = tmp_path / "out"
    with output_set(target) as staging:
        write_atomic(staging / "a.txt", "old a")
        write_atomic(staging / "only-old.txt", "gone next time")
    before = _snapshot(target)
    with pytest.raises(RuntimeError):
        with output_set(target) as staging:
            write_atomic(staging / "a.txt", "new a")
            raise RuntimeError("renderer failed halfway")
    assert _snapshot(target) == before and _leftovers(target) == []
    with output_set(target) as staging:
        write_atomic(staging / "a.txt", "new a")
    assert _snapshot(target) == {"a.txt": b"new a", SET_MANIFEST: _snapshot(target)[SET_MANIFEST]}
    assert json.loads((target / SET_MANIFEST).read_text())["files"] == ["a.txt"]


def test_a_symlinked_set_folder_stays_a_link(tmp_path):
    real = tmp_path / "real"
    with output_set(real) as staging:
        write_atomic(staging / "a.txt", "1")
    (tmp_path / "link").symlink_to(real)
    with output_set(tmp_path / "link") as staging:
        write_atomic(staging / "a.txt", "2")
    assert (tmp_path / "link").is_symlink() and (real / "a.txt").read_text() == "2"


def test_leftovers_of_killed_runs_are_cleaned_and_a_half_swap_is_undone(tmp_path):
    target = tmp_path / "out"
    with output_set(target) as staging:
        write_atomic(staging / "a.txt", "previous")
    (tmp_path / ".out.lpuplan-set-deadbeef0000").mkdir()  # a run killed while writing
    (tmp_path / ".out.lpuplan-set-deadbeef0000" / "plan.json").write_text("half")
    output.clean_leftovers(target)
    assert _leftovers(target) == []
    # the two-rename fallback killed between its renames: the old set is put back
    target.rename(tmp_path / ".out.lpuplan-old-deadbeef0001")
    output.clean_leftovers(target)
    assert (target / "a.txt").read_text() == "previous" and _leftovers(target) == []


def test_the_two_rename_fallback_gives_the_same_set(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "_libc_renameat2", lambda: None)
    target = tmp_path / "out"
    for text in ("one", "two"):
        with output_set(target) as staging:
            write_atomic(staging / "a.txt", text)
    assert (target / "a.txt").read_text() == "two" and _leftovers(target) == []


def test_plan_full_disk_midway_exits_2_naming_out_and_keeps_the_previous_set(tmp_path, monkeypatch):
    project = _small_project(tmp_path / "p.toml", 20.0)
    out = tmp_path / "o"
    assert runner.invoke(app, ["plan", str(project), "--out", str(out), "--no-simulate"]).exit_code in (0, 3)
    before = _snapshot(out)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(output.os, "fsync", fsync)
    result = runner.invoke(app, ["plan", str(project), "--out", str(out), "--no-simulate"])
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and "No space left" in result.output and str(out) in result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output
    assert _snapshot(out) == before and _leftovers(out) == []


# --- real SIGKILLs ----------------------------------------------------------------------------

def _small_project(path: Path, lambda_peak: float) -> Path:
    text = example_project_text()
    head, rest = text.split("[[bucket]]", 1)
    first_bucket = "[[bucket]]" + rest.split("[[bucket]]")[0]
    facility = text[text.index("[hardware]"):].replace("rows = 4", "rows = 1").replace("pods_per_row = 6", "pods_per_row = 3")
    head = head.replace("lambda_peak = 40.0", f"lambda_peak = {lambda_peak}").replace(
        "mean = 1400.0, std = 900.0", "mean = 300.0, std = 100.0")
    path.write_text(head + first_bucket + "\n" + facility)
    return path


def _plan(project: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lpuplan.cli", "plan", str(project), "--out", str(out), "--no-simulate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def test_sigkill_at_any_moment_leaves_one_whole_set(tmp_path):
    old_project = _small_project(tmp_path / "old.toml", 20.0)
    new_project = _small_project(tmp_path / "new.toml", 30.0)
    out = tmp_path / "out"
    reference = tmp_path / "reference"
    assert _plan(old_project, out).wait(timeout=120) in (0, 3)
    old = _snapshot(out)
    start = time.perf_counter()
    assert _plan(new_project, reference).wait(timeout=120) in (0, 3)
    duration = time.perf_counter() - start
    new = _snapshot(reference)
    assert old["plan.json"] != new["plan.json"] and len(old) > 10 and old.keys() == new.keys()
    seen = set()
    # eight moments from early in the run to just past its usual end (the write phase is the last third)
    for fraction in (0.02, 0.6, 0.75, 0.85, 0.9, 0.95, 1.0, 1.06):
        process = _plan(new_project, out)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        now = _snapshot(out)
        assert now in (old, new), f"killed at {fraction:.2f} of the run: a mixed set"
        seen.add("new" if now == new else "old")
    assert "old" in seen  # the first kill lands before the process has even imported lpuplan
    assert _plan(new_project, out).wait(timeout=120) in (0, 3)  # the next run cleans up
    assert _snapshot(out) == new and _leftovers(out) == []
