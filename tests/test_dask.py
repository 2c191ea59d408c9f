"""The batch pipeline on a dask.distributed cluster (2 worker processes) gives the DirectRunner's output."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.siteserver import SiteServer
from tests.conftest import SAMPLE
from tests.pipeline_run import read_outputs


def comparable(output) -> dict:
    out = read_outputs(output)
    return {
        "records": sorted((r["id"], r["title"], r["body"], r["body_source"], tuple(map(tuple, (
            (e["text"], e["label"], e["count"]) for e in r["entities"])))) for r in out["records"]),
        "duplicates": sorted((d["id"], d["url"], d["duplicate_of"], d["dedup"]["kind"], d["dedup"]["score"])
                             for d in out["duplicates"]),
        "dead_letters": sorted((d["stage"], d["reason"], d["url"]) for d in out["dead_letters"]),
    }


def test_dask_cluster_gives_the_direct_runners_records_and_verdicts(tmp_path):
    distributed = pytest.importorskip("distributed")
    direct, dask = tmp_path / "direct", tmp_path / "dask"
    assert main(["demo", "--output", str(direct)]) == 0
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, SiteServer(SAMPLE / "site") as server:
        assert main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(dask), "--allow_private_networks",
                     "--per_host_delay", "0", *server.connect_to_args(), "--runner", "DaskRunner",
                     "--dask_client_address", cluster.scheduler_address]) == 0
    # Each feed, robots.txt and page asked once: DaskRunner recomputes a side input's whole upstream, so a
    # global combine with a default value (which Beam injects through a side input) would fetch it all again.
    assert server.requests and max(server.requests.values()) == 1, server.requests
    expected, got = comparable(direct), comparable(dask)
    assert got == expected
    assert len(got["records"]) >= 30 and len(got["duplicates"]) >= 5
    summary = read_outputs(dask)["summary"]
    assert summary["counters_from"] == "tallies" and summary["invariant"]["holds"]
    # Feed counts come from the feed_status table there: the same as the direct runner's metrics.
    assert summary["feeds"]["parsed"] == read_outputs(direct)["summary"]["feeds"]["parsed"] == 6
