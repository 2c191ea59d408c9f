"""A progress line every few seconds while a batch run works, from the counters the stages keep.

The stages count every outcome (``transforms.deadletters.count``); on runners that run the stages in this
process (FnApiRunner in-process, the default) the counts are also kept here as they happen, and
``Progress`` prints them on stderr. Elsewhere (multi-process workers, Dask, Dataflow) counts reach this
process only when the run ends, so the line says how long the run has taken and that the counts come at
the end.
"""

from __future__ import annotations

import threading
import time
from typing import IO

from transforms.deadletters import drop_local_tally, keep_local_tally, local_tally

IN_PROCESS_RUNNERS = {"FnApiRunner", "BundleBasedDirectRunner"}


def counts_in_process(runner: str, running_mode: str | None) -> bool:
    """Whether the stages' counts happen in this process while the run goes (not with worker processes)."""
    return runner in IN_PROCESS_RUNNERS and running_mode != "multi_processing"


def progress_line(counters: dict[str, int] | None, elapsed: float) -> str:
    """``progress  12 s: feeds 6 read, pages 20 fetched / 1 failed, 18 extracted, ...`` from the counters."""
    if counters is None:
        return f"progress  {elapsed:.0f} s (this runner reports counts when the run ends)"

    def total(prefix: str) -> int:
        return sum(v for k, v in counters.items() if k.startswith(prefix))

    extracted = total("bodies.from_")  # one per article the extract stage made (from its page or its feed)
    verdicts = counters.get("dedup.canonical", 0) + total("dedup.duplicate.")
    written = counters.get("out.records", 0) + counters.get("out.duplicates", 0)
    rate = written / elapsed if elapsed > 0 else 0.0
    return (f"progress  {elapsed:.0f} s: feeds {counters.get('feeds.parsed', 0)} read, "
            f"pages {counters.get('pages.fetched', 0)} fetched / {total('pages.failed.')} failed, "
            f"{extracted} extracted, {verdicts} deduplicated, {written} written "
            f"({rate:.1f} articles/s), {total('dead_letter.')} dead letters")


class Progress:
    """``with Progress(sys.stderr, in_process=True, interval=5): pipeline.run()``; nothing when disabled."""

    def __init__(self, stream: IO[str], in_process: bool, interval: float = 5.0, enabled: bool = True):
        self._stream = stream
        self._in_process = in_process
        self._interval = interval
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __enter__(self) -> Progress:
        if self._enabled:
            if self._in_process:
                keep_local_tally()
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 1)
            if self._in_process:
                drop_local_tally()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            counters = local_tally() if self._in_process else None
            print(progress_line(counters, time.monotonic() - self._started), file=self._stream, flush=True)
