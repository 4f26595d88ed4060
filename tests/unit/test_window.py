"""Optimisation windows (UTC): start inclusive, end exclusive, wrapping past midnight, bad bounds named."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_gradient.core.window import WindowError, describe_window, in_window


def _t(hh: int, mm: int, ss: int = 0, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hh, mm, ss, tzinfo=tz)


@pytest.mark.parametrize(
    ("start", "end", "now", "inside"),
    [
        ("00:00", "01:00", _t(0, 0), True),
        ("00:00", "01:00", _t(0, 59, 59), True),
        ("00:00", "01:00", _t(1, 0), False),
        ("00:00", "01:00", _t(23, 59, 59), False),
        ("23:00", "01:00", _t(22, 59, 59), False),
        ("23:00", "01:00", _t(23, 0), True),
        ("23:00", "01:00", _t(0, 0), True),
        ("23:00", "01:00", _t(0, 59), True),
        ("23:00", "01:00", _t(1, 0), False),
        ("05:00", "05:00", _t(17, 0), True),  # equal bounds: the whole day
        (None, None, _t(12, 0), True),  # no window: always
    ],
)
def test_in_window(start: str | None, end: str | None, now: dt.datetime, inside: bool) -> None:
    assert in_window(start, end, now) is inside


def test_window_is_utc_whatever_the_callers_zone() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    assert in_window("00:00", "01:00", _t(1, 30, tz=cet))  # 00:30 UTC
    assert not in_window("00:00", "01:00", _t(0, 30, tz=cet))  # 23:30 UTC
    assert describe_window("00:00", "01:00") == "00:00-01:00 UTC"


@pytest.mark.parametrize("bad", ["24:00", "7", "ab:cd", "12:5"])
def test_bad_bound_is_named(bad: str) -> None:
    with pytest.raises(WindowError, match=repr(bad)):
        in_window(bad, "01:00", _t(0, 0))
