"""Optimisation windows: the daily UTC time range in which a new recommendation may be applied.

A window is two ``HH:MM`` bounds in **UTC**, start inclusive and end exclusive. A start after the end
wraps past midnight (``23:00-01:00`` is 23:00..00:59 UTC); equal bounds mean the whole day. Pure code:
the caller passes the time.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["WindowError", "describe_window", "in_window", "parse_hhmm"]


class WindowError(ValueError):
    """A window bound is not ``HH:MM`` (24 h)."""


def parse_hhmm(value: str) -> int:
    """Minutes since midnight of an ``HH:MM`` bound.

    :param value: e.g. ``"23:30"``.
    :raises WindowError: when it is not a 24-hour ``HH:MM``.
    """
    hh, sep, mm = str(value).strip().partition(":")
    if not sep or not (hh.isascii() and mm.isascii() and hh.isdigit() and mm.isdigit()) or len(mm) != 2:
        raise WindowError(f"optimisation window bound {value!r} is not HH:MM")
    h, m = int(hh), int(mm)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise WindowError(f"optimisation window bound {value!r} is not a time of day")
    return h * 60 + m


def in_window(start: str | None, end: str | None, now: dt.datetime) -> bool:
    """Whether ``now`` lies in the window ``[start, end)`` (UTC). No window (None) means always.

    :param start: window start ``HH:MM`` (UTC) or None.
    :param end: window end ``HH:MM`` (UTC, exclusive) or None.
    :param now: an aware datetime (converted to UTC) or a naive one taken as UTC.
    """
    if start is None or end is None:
        return True
    s, e = parse_hhmm(start), parse_hhmm(end)
    if s == e:
        return True
    utc = now.astimezone(dt.UTC) if now.tzinfo is not None else now
    t = utc.hour * 60 + utc.minute
    return s <= t < e if s < e else (t >= s or t < e)


def describe_window(start: str | None, end: str | None) -> str:
    """Human form, e.g. ``"00:00-01:00 UTC"`` (``"always"`` without a window)."""
    if start is None or end is None:
        return "always"
    return f"{start}-{end} UTC"
