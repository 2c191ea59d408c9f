"""Run folders under --output: names, the latest pointer, pruning (pipeline.runs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.runs import finished_runs, latest_run, mark_latest, new_run_folder, prune_runs, remove_run_folder

WHEN = datetime(2026, 12, 1, 6, 0, 0, tzinfo=UTC)


def finished(output, started=WHEN) -> str:
    folder = new_run_folder(str(output), started)
    (output / folder.rsplit("/", 1)[-1] / "run_summary.json").write_text("{}")
    return folder


def test_runs_in_one_second_get_their_own_folders_and_latest_names_the_newest(tmp_path):
    first, second = finished(tmp_path), finished(tmp_path)
    assert [f.rsplit("/", 1)[-1] for f in (first, second)] == ["run=2026-12-01T06-00-00Z", "run=2026-12-01T06-00-00Z-2"]
    assert latest_run(str(tmp_path)) is None  # nothing has finished until the pointer says so
    mark_latest(str(tmp_path), second)
    assert latest_run(str(tmp_path)) == second and (tmp_path / "latest").read_text() == "run=2026-12-01T06-00-00Z-2\n"
    unfinished = new_run_folder(str(tmp_path), WHEN)  # no summary: not a finished run
    assert finished_runs(str(tmp_path)) == [first, second] and unfinished not in finished_runs(str(tmp_path))


def test_pruning_keeps_the_newest_and_never_touches_the_state_or_other_files(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "CURRENT").write_text("g000003")
    (tmp_path / "notes.txt").write_text("mine")
    runs = [finished(tmp_path, WHEN.replace(hour=h)) for h in (6, 7, 8, 9)]
    mark_latest(str(tmp_path), runs[-1])
    assert prune_runs(str(tmp_path), keep=0) == []
    assert prune_runs(str(tmp_path), keep=2) == runs[:2]
    assert finished_runs(str(tmp_path)) == runs[2:]
    assert (tmp_path / "state" / "CURRENT").exists() and (tmp_path / "notes.txt").exists()
    with pytest.raises(ValueError):
        remove_run_folder(str(tmp_path))


def test_a_removed_run_leaves_no_folder_behind(tmp_path):
    folder = finished(tmp_path)
    (tmp_path / folder.rsplit("/", 1)[-1] / "beam-temp-records-1").mkdir()  # Beam's temporary folders too
    (tmp_path / folder.rsplit("/", 1)[-1] / "beam-temp-records-1" / "shard").write_text("x")
    remove_run_folder(folder)
    assert list(tmp_path.iterdir()) == []
