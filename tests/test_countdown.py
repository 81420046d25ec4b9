"""The time left to a deadline reads the same in `intake queue`, on the dashboard and in
the digest: one wording, from `pipeline.desk.views`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.desk.views import countdown, time_span


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(days=2, hours=4, minutes=59), "2 days 4 h left"),
        (timedelta(days=1, minutes=5), "1 day 0 h left"),
        (timedelta(hours=3, minutes=10, seconds=59), "3 h 10 min left"),
        (timedelta(minutes=5, seconds=30), "5 min left"),
        (timedelta(seconds=20), "0 min left"),
        (timedelta(0), "deadline passed"),
        (timedelta(minutes=-3), "deadline passed"),
    ],
)
def test_the_desk_reads_the_time_left_in_one_wording(left: timedelta, words: str) -> None:
    assert countdown(left) == words


def test_the_digest_says_in_how_long_with_the_same_words() -> None:
    assert time_span(timedelta(hours=30)) == "1 day 6 h"
    assert time_span(timedelta(hours=1, minutes=20)) == "1 h 20 min"
    assert time_span(timedelta(minutes=-1)) == "0 min"
