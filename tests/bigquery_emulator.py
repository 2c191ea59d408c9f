"""A real BigQuery emulator on 127.0.0.1 for tests: ``bqemulator`` (DuckDB-backed, REST API).

It lives in its own virtual environment, ``.venv-bqemulator`` (``make install-bqemulator``; its pins are
in ``requirements-bqemulator.txt``), because its dependencies (FastAPI, OpenTelemetry, sqlglot...) are
not the pipeline's. ``BigQueryEmulator`` starts it through ``tests/bigquery_emulator_launcher.py`` on a
free loopback port in its own process group, waits until the REST API answers, and kills the group on
``stop()``.

``with emulator.beam_clients():`` points Beam's BigQuery clients at it for the duration: Beam 2.77 has
no endpoint option, so the apitools client's ``BASE_URL`` is replaced, ``google-cloud-bigquery`` reads
``BIGQUERY_EMULATOR_HOST`` (with the scheme), and both get anonymous credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_PYTHON = PROJECT_ROOT / ".venv-bqemulator" / "bin" / "python"
LAUNCHER = Path(__file__).resolve().parent / "bigquery_emulator_launcher.py"


def emulator_installed() -> bool:
    return EMULATOR_PYTHON.exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BigQueryEmulator:
    """``with BigQueryEmulator() as bq: bq.create_dataset("news"); bq.rows("news", "t")``."""

    def __init__(self, project: str = "newsbeam-test", startup_timeout_s: float = 60.0):
        self.project = project
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BigQueryEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not emulator_installed():
            raise RuntimeError(f"no BigQuery emulator at {EMULATOR_PYTHON} (make install-bqemulator)")
        self.port = _free_port()
        self._workdir = tempfile.TemporaryDirectory(prefix="bqemulator-")
        log = open(Path(self._workdir.name) / "emulator.log", "wb")
        self._proc = subprocess.Popen(
            [str(EMULATOR_PYTHON), str(LAUNCHER), "start", "--rest-host", "127.0.0.1", "--rest-port", str(self.port),
             "--grpc-host", "127.0.0.1", "--grpc-port", str(_free_port()), "--project", self.project,
             "--ephemeral", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self._workdir.name, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"bqemulator exited ({self._proc.returncode}): {self.log_tail()}")
            with contextlib.suppress(OSError):
                self.request("GET", f"/projects/{self.project}/datasets")
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"bqemulator did not answer within {self.startup_timeout_s} s")

    def stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=30)
            self._proc = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def log_tail(self, chars: int = 2000) -> str:
        if self._workdir is None:
            return ""
        return (Path(self._workdir.name) / "emulator.log").read_text(errors="replace")[-chars:]

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/bigquery/v2{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def create_dataset(self, dataset: str) -> None:
        self.request("POST", f"/projects/{self.project}/datasets",
                     {"datasetReference": {"projectId": self.project, "datasetId": dataset}})

    def table(self, dataset: str, table: str) -> dict[str, Any]:
        return self.request("GET", f"/projects/{self.project}/datasets/{dataset}/tables/{table}")

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a standard-SQL query, as {column: value} (values as the REST API gives them: strings)."""
        answer = self.request("POST", f"/projects/{self.project}/queries",
                              {"query": sql, "useLegacySql": False, "timeoutMs": 30000})
        names = [field["name"] for field in answer["schema"]["fields"]]
        return [dict(zip(names, (cell["v"] for cell in row["f"]))) for row in answer.get("rows", [])]

    @contextlib.contextmanager
    def beam_clients(self) -> Iterator[None]:
        import google.auth
        from apache_beam.internal.gcp import auth
        from apache_beam.io.gcp.internal.clients.bigquery import bigquery_v2_client
        from google.auth.credentials import AnonymousCredentials

        client = bigquery_v2_client.BigqueryV2
        saved = (client.BASE_URL, os.environ.get("BIGQUERY_EMULATOR_HOST"), google.auth.default,
                 auth._Credentials._credentials_init, auth._Credentials._credentials)
        client.BASE_URL = f"{self.url}/bigquery/v2/"
        os.environ["BIGQUERY_EMULATOR_HOST"] = self.url
        google.auth.default = lambda *args, **kwargs: (AnonymousCredentials(), self.project)
        auth._Credentials._credentials_init, auth._Credentials._credentials = False, None
        try:
            yield
        finally:
            client.BASE_URL, host, google.auth.default = saved[0], saved[1], saved[2]
            auth._Credentials._credentials_init, auth._Credentials._credentials = saved[3], saved[4]
            if host is None:
                os.environ.pop("BIGQUERY_EMULATOR_HOST", None)
            else:
                os.environ["BIGQUERY_EMULATOR_HOST"] = host


__all__ = ["BigQueryEmulator", "emulator_installed"]
