"""Models kept for the life of the process, for launchers that run one pipeline after another.

A local stream (``pipeline.microbatch``) runs the batch graph once per
micro-batch; RunInference loads its model once per pipeline, so every batch
would load spaCy and the sentence model again (about 2 s together). With
``keep_models()`` the loaders return the model the process already holds.
Only for runners that use a model from one thread at a time (FnApiRunner in
memory runs one bundle at a time); off by default.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_kept: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()
_enabled = False


def keep_models(enabled: bool = True) -> None:
    global _enabled
    _enabled = enabled
    if not enabled:
        with _lock:
            _kept.clear()


def load_kept(kind: str, key: str | None, load: Callable[[], Any]) -> Any:
    """``load()``, or the model of this ``kind`` and ``key`` loaded before when models are kept."""
    if not _enabled:
        return load()
    with _lock:
        name = (kind, key or "")
        if name not in _kept:
            _kept[name] = load()
        return _kept[name]
