"""A real Google Pub/Sub emulator on 127.0.0.1 for tests: the Java fake from the Cloud SDK.

``PubSubEmulator`` starts ``cloud-pubsub-emulator`` (Debian package
``google-cloud-cli-pubsub-emulator``, needs Java) on a free loopback port in its
own process group, waits until an admin call succeeds, and kills the whole group
on ``stop()``. Its own clients talk to it over an explicit insecure gRPC channel,
so nothing here reads or writes ``PUBSUB_EMULATOR_HOST``; code that builds its
own clients (Beam's ``ReadFromPubSub``/``WriteToPubSub``) needs the variable,
which ``with emulator.environ():`` sets and then restores.

The emulator keeps topics and messages in memory; it has no data-dir flag, so
its working directory, log and ``java.io.tmpdir`` live in a temp folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import grpc
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

LAUNCHER_ENV = "NEWSBEAM_PUBSUB_EMULATOR"
LAUNCHER_NAME = "cloud-pubsub-emulator"
DEB_PACKAGE = "google-cloud-cli-pubsub-emulator"
KNOWN_LAUNCHERS = (
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/usr/share/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/opt/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/snap/google-cloud-cli/current/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
)


def _executable(path: str | os.PathLike[str] | None) -> str | None:
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return str(path)
    return None


def find_emulator_launcher() -> str | None:
    """The emulator's start script: $NEWSBEAM_PUBSUB_EMULATOR, known paths, ``dpkg -L``, then PATH."""
    override = os.environ.get(LAUNCHER_ENV)
    if override:
        return _executable(override)  # an explicit override that is wrong is not silently replaced
    for path in KNOWN_LAUNCHERS:
        if found := _executable(path):
            return found
    if shutil.which("dpkg"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            listing = subprocess.run(
                ["dpkg", "-L", DEB_PACKAGE], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            for line in listing.splitlines():
                if line.endswith(f"/bin/{LAUNCHER_NAME}") and (found := _executable(line.strip())):
                    return found
    if found := shutil.which(LAUNCHER_NAME):
        return found
    if gcloud := shutil.which("gcloud"):  # <sdk>/bin/gcloud -> <sdk>/platform/pubsub-emulator/bin/...
        sdk = Path(os.path.realpath(gcloud)).parent.parent
        return _executable(sdk / "platform" / "pubsub-emulator" / "bin" / LAUNCHER_NAME)
    return None


def find_java() -> str | None:
    """The java the launcher script will use: $JAVA_HOME/bin/java if JAVA_HOME is set, else PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        return _executable(os.path.join(java_home, "bin", "java"))
    return shutil.which("java")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReceivedMessage(NamedTuple):
    data: bytes
    attributes: dict[str, str]
    message_id: str


class PubSubEmulator:
    """``with PubSubEmulator() as emu: emu.create_topic("t"); emu.publish("t", b"x", k="v")``."""

    def __init__(
        self, project: str = "newsbeam-test", *, launcher: str | None = None, startup_timeout_s: float = 60.0,
        port: int = 0,
    ) -> None:
        """``port`` 0: a free one; a fixed port lets a test stop the emulator and start another where it was."""
        self.project = project
        self._fixed_port = port
        self.launcher = launcher or find_emulator_launcher()
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._pgid: int | None = None
        self._workdir: str | None = None
        self._log = None
        self._channels: list[grpc.Channel] = []
        self._publisher: pubsub_v1.PublisherClient | None = None
        self._subscriber: pubsub_v1.SubscriberClient | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path | None:
        return Path(self._workdir) / "emulator.log" if self._workdir else None

    def __enter__(self) -> "PubSubEmulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "PubSubEmulator":
        if self._proc is not None:
            return self
        if not self.launcher:
            raise RuntimeError(f"no Pub/Sub emulator launcher found (install {DEB_PACKAGE} or set {LAUNCHER_ENV})")
        if not find_java():
            raise RuntimeError("the Pub/Sub emulator needs Java, and no java was found (JAVA_HOME or PATH)")
        self._workdir = tempfile.mkdtemp(prefix="newsbeam-pubsub-")
        atexit.register(self.stop)
        try:
            for attempt in range(3):  # a free port can be taken between probe and bind
                self._spawn()
                try:
                    self._wait_ready()
                    return self
                except _EarlyExit:
                    if attempt == 2 or "address already in use" not in self.log_tail().lower():
                        raise
                    self._kill_group()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        assert self._workdir is not None
        self.port = self._fixed_port or _free_port()
        env = dict(os.environ)
        env.pop("PUBSUB_EMULATOR_HOST", None)
        env["JAVA_OPTS"] = f"{env.get('JAVA_OPTS', '')} -Djava.io.tmpdir={self._workdir}".strip()
        if self._log is None:
            self._log = open(self.log_path, "ab")  # closed in stop()
        self._proc = subprocess.Popen(
            [self.launcher, "--host=127.0.0.1", f"--port={self.port}"],
            cwd=self._workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pgid = self._proc.pid  # a new session: its leader's pid is the group id

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise _EarlyExit(f"Pub/Sub emulator exited with {code} before it was ready\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                list(self.publisher.list_topics(request={"project": f"projects/{self.project}"}, timeout=5))
                return
            except (OSError, gexc.GoogleAPICallError, gexc.RetryError) as error:
                last_error = error
                time.sleep(0.2)
        raise RuntimeError(
            f"Pub/Sub emulator on {self.host} not ready after {self.startup_timeout_s:.0f} s "
            f"(last error: {last_error!r})\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        path = self.log_path
        if path is None or not path.exists():
            return "(no emulator log)"
        text = path.read_text(errors="replace").splitlines()
        return "emulator log tail:\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """Close clients, SIGTERM the emulator's process group, SIGKILL it after 5 s, remove the temp folder."""
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                self._publisher.stop()  # flush and end its batch threads
        for client in (self._publisher, self._subscriber):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.transport.close()
        self._publisher = self._subscriber = None
        for channel in self._channels:
            with contextlib.suppress(Exception):
                channel.close()
        self._channels.clear()
        self._kill_group()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        atexit.unregister(self.stop)

    def _kill_group(self) -> None:
        proc, pgid = self._proc, self._pgid
        self._proc = self._pgid = None
        if proc is None or pgid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    # -- environment for code that builds its own clients ---------------------------------------

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host}

    @contextlib.contextmanager
    def environ(self) -> Iterator[None]:
        """Set PUBSUB_EMULATOR_HOST in os.environ for the block (for Beam's Pub/Sub IO), then restore it."""
        previous = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = self.host
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST", None)
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = previous

    # -- clients and helpers ----------------------------------------------------------------------

    def _channel(self) -> grpc.Channel:
        channel = grpc.insecure_channel(self.host)
        self._channels.append(channel)
        return channel

    @property
    def publisher(self) -> pubsub_v1.PublisherClient:
        if self._publisher is None:
            transport = PublisherGrpcTransport(host=self.host, channel=self._channel())
            self._publisher = pubsub_v1.PublisherClient(transport=transport)
        return self._publisher

    @property
    def subscriber(self) -> pubsub_v1.SubscriberClient:
        if self._subscriber is None:
            transport = SubscriberGrpcTransport(host=self.host, channel=self._channel())
            self._subscriber = pubsub_v1.SubscriberClient(transport=transport)
        return self._subscriber

    def topic_path(self, name: str) -> str:
        return name if name.startswith("projects/") else f"projects/{self.project}/topics/{name}"

    def subscription_path(self, name: str) -> str:
        return name if name.startswith("projects/") else f"projects/{self.project}/subscriptions/{name}"

    def create_topic(self, name: str) -> str:
        path = self.topic_path(name)
        self.publisher.create_topic(request={"name": path}, timeout=10)
        return path

    def create_subscription(self, name: str, topic: str, *, ack_deadline_s: int = 10) -> str:
        path = self.subscription_path(name)
        self.subscriber.create_subscription(
            request={"name": path, "topic": self.topic_path(topic), "ack_deadline_seconds": ack_deadline_s},
            timeout=10,
        )
        return path

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        """Publish one message and wait for its id."""
        return self.publisher.publish(self.topic_path(topic), data, **attributes).result(timeout=30)

    def pull(self, subscription: str, max_messages: int = 10, timeout_s: float = 10.0) -> list[ReceivedMessage]:
        """Pull until ``max_messages`` arrived or ``timeout_s`` passed; ack what arrived."""
        path = self.subscription_path(subscription)
        got: list[ReceivedMessage] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < max_messages:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                response = self.subscriber.pull(
                    request={"subscription": path, "max_messages": max_messages - len(got)},
                    timeout=max(0.5, min(left, 5.0)),
                )
            except (gexc.DeadlineExceeded, gexc.RetryError):
                continue
            if not response.received_messages:
                time.sleep(0.05)
                continue
            self.subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]},
                timeout=10,
            )
            got.extend(
                ReceivedMessage(bytes(m.message.data), dict(m.message.attributes), m.message.message_id)
                for m in response.received_messages
            )
        return got


class _EarlyExit(RuntimeError):
    pass


def _group_alive(pgid: int) -> bool:
    """Whether any process (zombies aside) is still in process group ``pgid``."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            return True
    return False


class Collector:
    """Pulls an output subscription into a list, until a condition on what arrived holds."""

    def __init__(self, emulator: PubSubEmulator, subscription: str, wait_s: float = 180):
        self.emulator, self.subscription, self.wait_s = emulator, subscription, wait_s
        self.messages: list[ReceivedMessage] = []

    def until(self, condition, what: str) -> list[ReceivedMessage]:
        deadline = time.monotonic() + self.wait_s
        while not condition(self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {self.wait_s} s for {what}; got {[m.attributes for m in self.messages]}")
            self.messages += self.emulator.pull(self.subscription, max_messages=50, timeout_s=2)
        return self.messages
