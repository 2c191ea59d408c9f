"""Adaptive polling between scheduled runs: intervals, backoff, Retry-After, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from transforms.lib.polling import (
    PollSettings,
    after_failure,
    after_success,
    interval_after_poll,
    parse_duration,
    wait_after_failures,
    why_not_due,
)

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
SETTINGS = PollSettings(min_interval=900, max_interval=86400)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_durations():
    assert [parse_duration(t) for t in ("900", "90s", "15m", "2h", "1d", "1.5h")] == [900, 90, 900, 7200, 86400,
                                                                                         5400]
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_news_resets_the_interval_and_quiet_polls_double_it_up_to_the_maximum():
    assert interval_after_poll(None, 3, SETTINGS) == 900
    assert interval_after_poll(7200, 1, SETTINGS) == 900
    intervals, interval = [], None
    for _ in range(9):
        interval = interval_after_poll(interval, 0, SETTINGS)
        intervals.append(interval)
    assert intervals == [1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400, 86400]


def test_failures_back_off_exponentially_within_the_bounds():
    assert [wait_after_failures(n, SETTINGS) for n in (1, 2, 3, 4, 10, 1000)] == [900, 1800, 3600, 7200, 86400,
                                                                                  86400]


def test_a_feed_that_answered_is_due_after_its_interval():
    feed = after_success({"poll_interval_seconds": 3600, "failures": 2, "not_before": "x"}, 0, NOW, SETTINGS)
    assert feed["poll_interval_seconds"] == 7200 and feed["failures"] == 0 and "not_before" not in feed
    assert feed["next_due"] == iso(NOW + timedelta(hours=2))
    assert why_not_due(feed, NOW + timedelta(hours=1)) == {"due": feed["next_due"], "why": "interval"}
    assert why_not_due(feed, NOW + timedelta(hours=2)) is None
    assert why_not_due(feed, NOW + timedelta(hours=1), poll_all=True) is None
    assert why_not_due(None, NOW) is None and why_not_due({}, NOW) is None  # a new feed is due at once


def test_a_failure_keeps_the_interval_for_when_the_feed_recovers():
    feed = {"poll_interval_seconds": 14400, "failures": 0}
    for n in (1, 2, 3):
        feed = after_failure(feed, "http_500_after_retries", NOW, SETTINGS)
        assert feed["failures"] == n and feed["last_status"] == "http_500_after_retries"
    assert feed["next_due"] == iso(NOW + timedelta(seconds=3600)) and feed["poll_interval_seconds"] == 14400
    recovered = after_success(feed, 0, NOW, SETTINGS)
    assert recovered["poll_interval_seconds"] == 28800 and recovered["failures"] == 0


def test_retry_after_is_honoured_even_with_poll_all_and_capped_at_the_maximum_interval():
    asked = iso(NOW + timedelta(hours=3))
    feed = after_failure({}, "retry_after_too_long", NOW, SETTINGS, not_before=asked)
    assert feed["not_before"] == asked and feed["next_due"] == asked
    assert why_not_due(feed, NOW + timedelta(hours=1), poll_all=True) == {"due": asked, "why": "retry_after"}
    assert why_not_due(feed, NOW + timedelta(hours=3)) is None
    year = after_failure({}, "retry_after_too_long", NOW, SETTINGS, not_before=iso(NOW + timedelta(days=365)))
    assert year["not_before"] == iso(NOW + timedelta(days=1))
