"""Helpers for tests that run the whole pipeline and read what it wrote."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any


def read_table(output: Path, name: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(glob.glob(str(output / f"{name}-*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def read_outputs(output: Path) -> dict[str, Any]:
    tables = {name: read_table(output, name) for name in ("records", "duplicates", "dead_letters")}
    tables["summary"] = json.loads((output / "run_summary.json").read_text())
    return tables
