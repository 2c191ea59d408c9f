"""Run folders: each batch run writes under ``OUTPUT/run=<start time>/``; ``OUTPUT/latest`` names the newest.

    OUTPUT/
      latest                          "run=2026-12-01T06-00-00Z": the newest run that finished
      run=2026-11-30T06-00-00Z/       records-*, duplicates-*, dead_letters-*, tallies.jsonl, run_summary.json
      run=2026-12-01T06-00-00Z/
      state/                          (the demo's --state; any path works)

A run never writes into another run's folder, so a consumer that reads
``latest`` never sees a half-written run, and a run that finds nothing new
leaves the last run's records in place. A run that fails or is interrupted
removes its own folder. Folder names sort in time order; ``keep_runs`` prunes
the oldest finished ones. Paths go through Beam's ``FileSystems``, so
``--output gs://BUCKET/news`` works the same.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime

from apache_beam.io.filesystems import FileSystems

RUN_PREFIX = "run="
LATEST = "latest"
SUMMARY = "run_summary.json"  # written last: a folder with it is a finished run


def run_folder_name(started: datetime) -> str:
    return f"{RUN_PREFIX}{started:%Y-%m-%dT%H-%M-%SZ}"


def new_run_folder(output: str, started: datetime) -> str:
    """Create and return this run's folder; a second run in the same second gets ``-2``, then ``-3``..."""
    base = run_folder_name(started)
    for attempt in range(1, 1000):
        folder = FileSystems.join(output, base if attempt == 1 else f"{base}-{attempt}")
        if not FileSystems.exists(folder) and not FileSystems.exists(FileSystems.join(folder, SUMMARY)):
            FileSystems.mkdirs(folder)
            return folder
    raise ValueError(f"--output {output!r}: 999 runs started in the second {base}")


def remove_run_folder(folder: str) -> None:
    """Delete a run folder and everything in it (Beam's ``beam-temp-*`` folders too)."""
    if not folder.rstrip("/").rsplit("/", 1)[-1].startswith(RUN_PREFIX):
        raise ValueError(f"not a run folder, not removed: {folder}")  # never the output folder or the state
    if FileSystems.get_scheme(folder) in (None, "file"):
        # Beam's local delete removes the files a pattern matches and leaves the folders; and an interrupted
        # run's threads may still be creating files while it goes: try again until the folder is gone.
        local = folder.removeprefix("file://")
        for attempt in range(5):
            shutil.rmtree(local, ignore_errors=True)
            if not os.path.exists(local):
                return
            time.sleep(0.1 * (attempt + 1))
        shutil.rmtree(local)  # the last try says why it could not
    elif FileSystems.match([FileSystems.join(folder, "*")])[0].metadata_list:
        FileSystems.delete([folder.rstrip("/") + "/"])  # object stores: every object under the prefix


def mark_latest(output: str, folder: str) -> None:
    """Point ``OUTPUT/latest`` at ``folder`` (written aside, then renamed over the old pointer)."""
    name = folder.rstrip("/").rsplit("/", 1)[-1]
    pointer, aside = FileSystems.join(output, LATEST), FileSystems.join(output, f".{LATEST}.new")
    with FileSystems.create(aside) as handle:
        handle.write(f"{name}\n".encode())
    if FileSystems.exists(pointer) and FileSystems.get_scheme(output) not in (None, "file"):
        FileSystems.delete([pointer])  # object stores do not rename over an existing object
    FileSystems.rename([aside], [pointer])


def latest_run(output: str) -> str | None:
    """The folder ``OUTPUT/latest`` names, or None before the first finished run."""
    pointer = FileSystems.join(output, LATEST)
    if not FileSystems.exists(pointer):
        return None
    with FileSystems.open(pointer) as handle:
        name = handle.read().decode("utf-8").strip()
    return FileSystems.join(output, name) if name.startswith(RUN_PREFIX) and "/" not in name else None


def finished_runs(output: str) -> list[str]:
    """The finished run folders under ``output``, oldest first."""
    matched = FileSystems.match([FileSystems.join(output, f"{RUN_PREFIX}*", SUMMARY)])[0].metadata_list
    folders = {m.path[: -len(SUMMARY)].rstrip("/") for m in matched}
    return sorted(f for f in folders if f.rsplit("/", 1)[-1].startswith(RUN_PREFIX))


def prune_runs(output: str, keep: int) -> list[str]:
    """Delete the oldest finished runs beyond ``keep`` (0: keep all); never the one ``latest`` names."""
    if keep <= 0:
        return []
    latest = latest_run(output)
    doomed = [folder for folder in finished_runs(output)[:-keep] if folder != latest]
    for folder in doomed:
        remove_run_folder(folder)
    return doomed
