"""Progress lines: on a terminal (a real pseudo-terminal), every --progress_interval seconds; none otherwise."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

from pipeline.cli import main
from pipeline.progress import counts_in_process, progress_line
from pipeline.siteserver import SiteServer
from tests.conftest import PROJECT, SAMPLE

LINE = re.compile(r"^progress  (\d+) s: feeds (\d+) read, pages (\d+) fetched / (\d+) failed, (\d+) extracted, "
                  r"(\d+) deduplicated, (\d+) written \((\d+\.\d) articles/s\), (\d+) dead letters$")


def test_a_progress_line_reads_the_stage_counters():
    counters = {"feeds.parsed": 6, "pages.fetched": 20, "pages.failed.http_404": 1, "bodies.from_page": 18,
                "bodies.from_feed": 2, "dedup.canonical": 15, "dedup.duplicate.same_url": 1, "out.records": 8,
                "out.duplicates": 2, "dead_letter.entry.extract.empty": 1}
    assert progress_line(counters, 4.0) == ("progress  4 s: feeds 6 read, pages 20 fetched / 1 failed, 20 extracted, "
                                            "16 deduplicated, 10 written (2.5 articles/s), 1 dead letters")
    assert progress_line(None, 9.4) == "progress  9 s (this runner reports counts when the run ends)"
    assert counts_in_process("FnApiRunner", None) and not counts_in_process("FnApiRunner", "multi_processing")
    assert not counts_in_process("pipeline.dask_runner.DaskRunner", None)


def _run_on_a_terminal(*args: str) -> str:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], stdin=follower, stdout=follower,
                            stderr=follower, cwd=PROJECT, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other side closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def test_a_run_on_a_terminal_prints_progress_and_a_piped_run_does_not(tmp_path, capsys):
    with SiteServer(SAMPLE / "site") as server:
        run = ["run", "--feeds", str(SAMPLE / "feeds.opml"), "--allow_private_networks", "--per_host_delay", "0",
               *server.connect_to_args(), "--no_entities"]
        shown = _run_on_a_terminal(*run, "--output", str(tmp_path / "tty"), "--progress_interval", "0.5")
        assert main([*run, "--output", str(tmp_path / "piped"), "--progress_interval", "0.5"]) == 0
    progress = [LINE.match(line) for line in shown.splitlines() if line.startswith("progress")]
    assert len(progress) >= 2 and all(progress), shown
    written = [int(m[7]) for m in progress]
    assert written == sorted(written)  # counts only grow
    assert int(progress[-1][2]) == 6  # every feed read before the run ended
    assert "invariant  entries 35" in shown  # the summary follows the progress lines
    assert "progress" not in capsys.readouterr().err  # stderr is not a terminal here
