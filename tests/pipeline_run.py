"""Helpers for tests that run the whole pipeline and read what it wrote."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any


def run_dir(output: Path) -> Path:
    """Where a run under ``output`` wrote: the batch run ``output/latest`` names, else ``output`` itself (a
    streaming run's windowed files, a sink written directly)."""
    latest = output / "latest"
    return output / latest.read_text(encoding="utf-8").strip() if latest.exists() else output


def read_table(output: Path, name: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(glob.glob(str(run_dir(output) / f"{name}-*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def read_outputs(output: Path) -> dict[str, Any]:
    tables = {name: read_table(output, name) for name in ("records", "duplicates", "dead_letters", "stories")}
    tables["summary"] = json.loads((run_dir(output) / "run_summary.json").read_text())
    return tables
