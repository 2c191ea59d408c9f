"""State carried between scheduled runs: generations on any Beam filesystem, made current in one step.

Layout under ``--state PATH`` (a local folder or ``gs://bucket/prefix``)::

    PATH/CURRENT                   the name of the current generation ("g000042"), written last
    PATH/generations/g000042/      one folder per run: STATE_FILES, each a JSON or binary blob
    PATH/LOCK                      present while a run holds the state

A run reads the current generation, writes a complete new one, then
replaces ``CURRENT`` (write to a temporary name, then rename: atomic on a
local filesystem; on object stores the rename is a copy, but readers only
follow ``CURRENT`` to a generation that is already complete). A run that
fails or is killed before that step leaves the current state untouched. The
previous generations are kept (``keep``); older ones are deleted.

Concurrency: a second run on the same state is refused while ``LOCK`` is
younger than ``stale_after`` seconds, unless the run that took it was a
process of this machine that is gone (killed); another machine's killed run
holds it until it is ``stale_after`` old. On
object stores the check-then-create is not atomic: schedule runs so they do
not overlap (the README's cron recipe uses ``flock``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from apache_beam.io.filesystems import FileSystems

CURRENT = "CURRENT"
LOCK = "LOCK"
GENERATIONS = "generations"


def _holder_gone(holder: str) -> bool:
    """A lock taken by a process of this machine that no longer exists (a killed run) is stale at once."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run: only its age can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class StateError(RuntimeError):
    """The state cannot be used: locked by another run, corrupt, or of an unknown format."""


class StateStore:
    def __init__(self, path: str, keep: int = 3, stale_after: float = 6 * 3600):
        self.path = path.rstrip("/")
        self.keep = max(1, keep)
        self.stale_after = stale_after
        self._locked = False

    def _join(self, *parts: str) -> str:
        return FileSystems.join(self.path, *parts)

    # Locking
    def acquire(self) -> None:
        lock = self._join(LOCK)
        if FileSystems.exists(lock):
            holder = self._read_json(lock, default={})
            age = time.time() - float(holder.get("time", 0))
            if age < self.stale_after and not _holder_gone(str(holder.get("holder", ""))):
                raise StateError(f"state {self.path} is in use by another run ({holder.get('holder', '?')}, "
                                 f"{age:.0f} s ago); remove {lock} if that run is gone")
        self._write(lock, json.dumps({"holder": f"{socket.gethostname()}:{os.getpid()}", "time": time.time()}))
        self._locked = True

    def release(self) -> None:
        if self._locked and FileSystems.exists(self._join(LOCK)):
            FileSystems.delete([self._join(LOCK)])
        self._locked = False

    def __enter__(self) -> StateStore:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # Reading and writing generations
    def current(self) -> str | None:
        """The current generation's name, or None for a fresh state (no CURRENT yet)."""
        pointer = self._join(CURRENT)
        if not FileSystems.exists(pointer):
            if FileSystems.exists(self._join(GENERATIONS)):
                raise StateError(f"state {self.path} has generations but no {CURRENT}: refusing to start over; "
                                 f"restore {CURRENT} or remove the folder for a fresh start")
            return None
        name = self._read(pointer).decode("utf-8").strip()
        if not name.startswith("g") or not FileSystems.exists(self._join(GENERATIONS, name, "COMPLETE")):
            raise StateError(f"state {self.path}: {CURRENT} names {name!r}, which is not a complete generation")
        return name

    def read(self, name: str, default: bytes | None = None) -> bytes | None:
        """A file of the current generation (None/default for a fresh state or a missing file)."""
        generation = self.current()
        if generation is None:
            return default
        path = self._join(GENERATIONS, generation, name)
        return self._read(path) if FileSystems.exists(path) else default

    def path_of(self, name: str) -> str | None:
        """The path of a file of the current generation, None when there is none (it stays while the lock is held)."""
        generation = self.current()
        if generation is None:
            return None
        path = self._join(GENERATIONS, generation, name)
        return path if FileSystems.exists(path) else None

    def read_json(self, name: str, default: Any = None) -> Any:
        data = self.read(name)
        if data is None:
            return default
        try:
            return json.loads(data)
        except ValueError as error:
            raise StateError(f"state file {name} in {self.path} is corrupt: {error}") from None

    def commit(self, files: dict[str, bytes]) -> str:
        """Write a new generation holding ``files`` and make it current; returns its name."""
        if not self._locked:
            raise StateError("commit without holding the state's lock")
        previous = self.current()
        number = int(previous[1:]) + 1 if previous else 1
        name = f"g{number:06d}"
        for file_name, data in files.items():
            self._write(self._join(GENERATIONS, name, file_name), data)
        self._write(self._join(GENERATIONS, name, "COMPLETE"), b"")
        temporary = self._join(f"{CURRENT}.tmp-{os.getpid()}")
        self._write(temporary, name.encode("utf-8"))
        if FileSystems.exists(self._join(CURRENT)):
            FileSystems.delete([self._join(CURRENT)])
        FileSystems.rename([temporary], [self._join(CURRENT)])
        self._prune(number)
        return name

    def _prune(self, newest: int) -> None:
        for number in range(max(0, newest - self.keep - 20), newest - self.keep + 1):
            folder = self._join(GENERATIONS, f"g{number:06d}")
            if number > 0 and FileSystems.exists(folder):
                FileSystems.delete([folder])

    def generations(self) -> list[str]:
        matches = FileSystems.match([self._join(GENERATIONS, "g*", "COMPLETE")])[0].metadata_list
        return sorted(m.path.rstrip("/").split("/")[-2] for m in matches)

    # Plumbing
    @staticmethod
    def _read(path: str) -> bytes:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            return handle.read()

    def _read_json(self, path: str, default: Any) -> Any:
        try:
            return json.loads(self._read(path))
        except (ValueError, OSError):
            return default

    @staticmethod
    def _write(path: str, data: bytes | str) -> None:
        with FileSystems.create(path, compression_type="uncompressed") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
