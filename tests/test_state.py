"""The state store for scheduled runs: generations, the current pointer, the lock, corrupt state."""

from __future__ import annotations

import json
import time

import pytest

from pipeline.state import StateError, StateStore


def test_a_fresh_state_reads_defaults_and_commits_generations(tmp_path):
    store = StateStore(str(tmp_path / "state"), keep=2)
    assert store.current() is None and store.read_json("feeds.json", {}) == {}
    with store:
        for n in range(1, 5):
            assert store.commit({"feeds.json": json.dumps({"run": n}).encode()}) == f"g{n:06d}"
    assert store.current() == "g000004" and store.read_json("feeds.json") == {"run": 4}
    assert store.generations() == ["g000003", "g000004"]  # the current one and one before it


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    first, second = StateStore(str(tmp_path)), StateStore(str(tmp_path))
    with first:
        with pytest.raises(StateError, match="in use by another run"):
            second.acquire()
    with second:  # released: the next run goes ahead
        second.commit({"x": b"1"})


def test_a_stale_lock_from_a_killed_run_expires(tmp_path):
    (tmp_path / "LOCK").write_text(json.dumps({"holder": "gone:1", "time": time.time() - 7 * 3600}))
    with StateStore(str(tmp_path), stale_after=6 * 3600) as store:
        assert store.commit({"x": b"1"}) == "g000001"


def test_a_run_killed_before_commit_leaves_the_current_state(tmp_path):
    store = StateStore(str(tmp_path))
    with store:
        store.commit({"feeds.json": b'{"run": 1}'})
    # A later run wrote part of its generation and died: no COMPLETE marker, CURRENT unchanged.
    (tmp_path / "generations" / "g000002").mkdir()
    (tmp_path / "generations" / "g000002" / "feeds.json").write_text('{"run": 2, "trunc')
    assert store.current() == "g000001" and store.read_json("feeds.json") == {"run": 1}
    with store:
        assert store.commit({"feeds.json": b'{"run": 3}'}) == "g000002"  # the next run completes the work
    assert store.read_json("feeds.json") == {"run": 3}


def test_corrupt_or_missing_pointers_are_clear_errors_not_fresh_starts(tmp_path):
    store = StateStore(str(tmp_path))
    with store:
        store.commit({"feeds.json": b"{not json"})
    with pytest.raises(StateError, match="corrupt"):
        store.read_json("feeds.json")
    (tmp_path / "CURRENT").write_text("g000099")
    with pytest.raises(StateError, match="not a complete generation"):
        store.current()
    (tmp_path / "CURRENT").unlink()
    with pytest.raises(StateError, match="refusing to start over"):
        store.current()
    with pytest.raises(StateError, match="lock"):
        StateStore(str(tmp_path)).commit({"x": b""})
