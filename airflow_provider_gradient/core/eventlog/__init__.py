"""Streaming Spark / Databricks event log parser (pure: no Airflow, no network).

``parse_event_log(path) -> AppSummary``; every bad input raises a subclass of ``EventLogError``.
"""

from __future__ import annotations

from airflow_provider_gradient.core.eventlog.errors import (
    CorruptCompressionError,
    DuplicateRolloverPartError,
    EmptyEventLogError,
    EventLogError,
    EventLogNotFoundError,
    MalformedEventError,
    MissingRolloverPartError,
    MixedSparkContextError,
    NoApplicationEventsError,
    NotAnEventLogError,
    RolloverError,
    RolloverPartWithoutMetadataError,
    UnsupportedFormatError,
)
from airflow_provider_gradient.core.eventlog.parser import parse_event_log
from airflow_provider_gradient.core.eventlog.summary import (
    QUANTILE_LEVELS,
    AppSummary,
    DatabricksClusterFacts,
    SqlExecution,
    StageSummary,
)

__all__ = [
    "QUANTILE_LEVELS",
    "AppSummary",
    "CorruptCompressionError",
    "DatabricksClusterFacts",
    "DuplicateRolloverPartError",
    "EmptyEventLogError",
    "EventLogError",
    "EventLogNotFoundError",
    "MalformedEventError",
    "MissingRolloverPartError",
    "MixedSparkContextError",
    "NoApplicationEventsError",
    "NotAnEventLogError",
    "RolloverError",
    "RolloverPartWithoutMetadataError",
    "SqlExecution",
    "StageSummary",
    "UnsupportedFormatError",
    "parse_event_log",
]
