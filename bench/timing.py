"""What the side-by-side measurements outside ``bench/run.py`` share: best-of timing and their command line."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(action: Callable[[], T], repeat: int) -> tuple[float, T]:
    """(the fastest of ``repeat`` runs in seconds, the last run's result)."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result  # type: ignore[return-value]


def main(doc: str | None, measure: Callable[[int], dict]) -> None:
    """``--repeat N`` (default 2), then ``measure(N)`` printed as JSON."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    print(json.dumps(measure(parser.parse_args().repeat), indent=1))
