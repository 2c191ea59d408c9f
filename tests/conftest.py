"""Shared fixtures: loopback servers, Beam test pipelines on an explicit runner, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from tests.faultserver import FaultServer
from tests.pubsub_emulator import PubSubEmulator, find_emulator_launcher, find_java

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


@pytest.fixture(scope="session")
def pubsub_emulator():
    """A started Pub/Sub emulator on 127.0.0.1; skipped without one (failed if NEWSBEAM_REQUIRE_PUBSUB_EMULATOR=1)."""
    missing = None
    launcher, override = find_emulator_launcher(), os.environ.get("NEWSBEAM_PUBSUB_EMULATOR")
    if not launcher and override:
        missing = f"NEWSBEAM_PUBSUB_EMULATOR={override} is not an executable file"
    elif not launcher:
        missing = (
            "no Pub/Sub emulator: install google-cloud-cli-pubsub-emulator or point "
            "NEWSBEAM_PUBSUB_EMULATOR at its cloud-pubsub-emulator script"
        )
    elif not find_java():
        missing = "the Pub/Sub emulator needs Java and none was found (JAVA_HOME or PATH)"
    if missing:
        if os.environ.get("NEWSBEAM_REQUIRE_PUBSUB_EMULATOR") == "1":
            pytest.fail(f"NEWSBEAM_REQUIRE_PUBSUB_EMULATOR=1 but {missing}")
        pytest.skip(missing)
    with PubSubEmulator(launcher=launcher) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def bigquery_emulator():
    """A started bqemulator on 127.0.0.1; skipped without one (failed if NEWSBEAM_REQUIRE_BIGQUERY_EMULATOR=1)."""
    from tests.bigquery_emulator import EMULATOR_PYTHON, BigQueryEmulator, emulator_installed

    if not emulator_installed():
        missing = f"no BigQuery emulator at {EMULATOR_PYTHON}: `make install-bqemulator` creates it"
        if os.environ.get("NEWSBEAM_REQUIRE_BIGQUERY_EMULATOR") == "1":
            pytest.fail(f"NEWSBEAM_REQUIRE_BIGQUERY_EMULATOR=1 but {missing}")
        pytest.skip(missing)
    with BigQueryEmulator() as emulator:
        yield emulator


@pytest.fixture
def topics(pubsub_emulator, request):
    suffix = request.node.name[-20:].replace("[", "").replace("]", "")
    names = {}
    for name in ("work", "records", "duplicates", "dead", "stories"):
        topic = pubsub_emulator.create_topic(f"{name}-{suffix}")
        names[name] = topic
        names[f"{name}_sub"] = pubsub_emulator.create_subscription(f"{name}-{suffix}-sub", topic)
    return names
