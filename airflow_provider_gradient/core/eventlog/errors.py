"""Typed errors of the event log parser: every problem with the input is an :class:`EventLogError`."""

from __future__ import annotations

from collections.abc import Iterable


class EventLogError(Exception):
    """Base class: the input cannot be turned into an application summary (one-line message)."""


class EventLogNotFoundError(EventLogError):
    """The given path does not exist or cannot be read."""


class UnsupportedFormatError(EventLogError):
    """The input is not in a format we can read (unknown compression, nested archive, ...)."""


class EmptyEventLogError(EventLogError):
    """The input holds no bytes / no event log lines at all."""


class NotAnEventLogError(EventLogError):
    """A file or archive member is not a Spark event log (for example a previously parsed summary JSON)."""


class CorruptCompressionError(EventLogError):
    """A compressed stream is truncated or corrupt."""


class MalformedEventError(EventLogError):
    """A line in the middle of the log is not a valid Spark listener event."""


class NoApplicationEventsError(EventLogError):
    """The log parsed but holds no application events (no app start, job, stage or task)."""


class RolloverError(EventLogError):
    """Base class of the problems with a set of rolled-over log parts."""


class MissingRolloverPartError(RolloverError):
    """A part of a rollover set is missing (the message names the missing numbers)."""

    def __init__(self, missing: Iterable[int], what: str = "rollover part") -> None:
        self.missing = tuple(sorted(missing))
        shown = ", ".join(str(n) for n in self.missing[:20])
        more = f" (+{len(self.missing) - 20} more)" if len(self.missing) > 20 else ""
        plural = "s" if len(self.missing) > 1 else ""
        super().__init__(f"missing {what}{plural} {shown}{more}")


class DuplicateRolloverPartError(RolloverError):
    """Two members claim the same rollover number."""


class RolloverPartWithoutMetadataError(RolloverError):
    """A Databricks rollover set mixes parts with and without a DBCEventLoggingListenerMetadata header."""


class MixedSparkContextError(RolloverError):
    """The parts come from more than one SparkContext / application."""
