"""The Pub/Sub emulator fixture itself: a real publish/pull round trip on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess

from tests.pubsub_emulator import PubSubEmulator


def test_round_trip_keeps_data_and_attributes(pubsub_emulator):
    topic = pubsub_emulator.create_topic("roundtrip-topic")
    subscription = pubsub_emulator.create_subscription("roundtrip-sub", topic)
    sent = [(f"message {i}".encode(), {"index": str(i), "feed": "example.org"}) for i in range(3)]
    for data, attributes in sent:
        assert pubsub_emulator.publish(topic, data, **attributes)

    received = pubsub_emulator.pull(subscription, max_messages=3, timeout_s=20)

    assert sorted((m.data, m.attributes) for m in received) == sorted(sent)
    assert pubsub_emulator.pull(subscription, max_messages=1, timeout_s=1) == []  # acked: not redelivered


def test_fixture_leaves_process_environment_alone(pubsub_emulator):
    assert pubsub_emulator.host.startswith("127.0.0.1:")
    assert os.environ.get("PUBSUB_EMULATOR_HOST") != pubsub_emulator.host
    with pubsub_emulator.environ():
        assert os.environ["PUBSUB_EMULATOR_HOST"] == pubsub_emulator.host
    assert os.environ.get("PUBSUB_EMULATOR_HOST") != pubsub_emulator.host


def test_stop_kills_the_whole_process_group(pubsub_emulator):
    # the session fixture proves a launcher and Java exist; this one starts and stops its own emulator
    emulator = PubSubEmulator(launcher=pubsub_emulator.launcher)
    with emulator:
        pgid = emulator.pid
        assert pgid and os.getpgid(pgid) == pgid != os.getpgid(0)
        workdir = emulator.log_path.parent
    ps = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    left = [line for line in ps.splitlines() if line.split()[1] == str(pgid) and not line.split()[2].startswith("Z")]
    assert left == []
    assert not workdir.exists()
