"""Shared fixtures: loopback servers, Beam test pipelines on an explicit runner, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from tests.faultserver import FaultServer

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSBEAM_SHARED", PROJECT.parent / "shared"))
SAMPLE = PROJECT / "sample"


def beam_test_pipeline(*extra: str) -> TestPipeline:
    """A TestPipeline on Beam's Python batch runner (never the Prism download)."""
    return TestPipeline(options=PipelineOptions(["--runner=FnApiRunner", *extra]), blocking=True)


@pytest.fixture
def fault_server():
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it sits beside the project in development and CI, not in a user's clone")
    return SHARED
