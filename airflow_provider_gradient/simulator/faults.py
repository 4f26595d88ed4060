"""Fault knobs of the emulator (set by CLI/env at start and at runtime via ``/_emulator/faults``)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["FaultError", "Faults", "FaultState"]

ENV_VAR = "GRADIENT_EMULATOR_FAULTS"


class FaultError(ValueError):
    """Unknown fault knob or bad value."""


@dataclass(frozen=True, slots=True)
class Faults:
    """What to break. All off by default.

    :param latency_ms: added to every API response.
    :param error_status: HTTP status of injected errors (429, 500 or 503).
    :param error_burst: the next N API requests (matching ``error_paths``) fail with ``error_status``.
    :param error_paths: substrings of paths the burst applies to (empty: all ``/api/`` paths).
    :param drop_connections: the next N API requests get their connection closed without a response.
    :param eventlog: ``ok``, ``missing`` (never written), ``late`` (written ``eventlog_delay_s`` simulated
        seconds after the run ends) or ``partial`` (tail cut, no ApplicationEnd, last rollover part missing).
    :param eventlog_delay_s: delay for ``late`` delivery.
    :param events_missing_pages: clusters/events returns 404 for pages at offset > 0.
    :param events_empty: clusters/events returns no events at all.
    :param internal_error_rate: fraction of submitted tasks that end in INTERNAL_ERROR (cluster launch failure).
    :param aws_throttle: the next N calls from the emulator to AWS are skipped (as if throttled).
    """

    latency_ms: int = 0
    error_status: int = 503
    error_burst: int = 0
    error_paths: tuple[str, ...] = ()
    drop_connections: int = 0
    eventlog: str = "ok"
    eventlog_delay_s: float = 600.0
    events_missing_pages: bool = False
    events_empty: bool = False
    internal_error_rate: float = 0.0
    aws_throttle: int = 0

    def __post_init__(self) -> None:
        if self.eventlog not in ("ok", "missing", "late", "partial"):
            raise FaultError(f"eventlog must be ok|missing|late|partial, got {self.eventlog!r}")
        if self.error_status not in (429, 500, 502, 503, 504):
            raise FaultError(f"error_status must be 429/500/502/503/504, got {self.error_status}")
        if self.latency_ms < 0 or self.error_burst < 0 or self.drop_connections < 0 or self.aws_throttle < 0:
            raise FaultError("latency_ms, error_burst, drop_connections and aws_throttle must be >= 0")
        if not 0.0 <= self.internal_error_rate <= 1.0:
            raise FaultError("internal_error_rate must be within 0..1")

    @classmethod
    def from_mapping(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        """Apply ``data`` over ``base`` (unknown keys raise :class:`FaultError`)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise FaultError(f"unknown fault knobs: {sorted(unknown)}")
        clean = dict(data)
        if "error_paths" in clean:
            clean["error_paths"] = tuple(clean["error_paths"] or ())
        try:
            return replace(base or cls(), **clean)
        except TypeError as exc:
            raise FaultError(str(exc)) from exc

    @classmethod
    def from_env(cls) -> Faults:
        """Read ``GRADIENT_EMULATOR_FAULTS`` (a JSON object), default: no faults."""
        raw = os.environ.get(ENV_VAR)
        if not raw:
            return cls()
        try:
            return cls.from_mapping(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise FaultError(f"{ENV_VAR} is not JSON: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        d = asdict(self)
        d["error_paths"] = list(self.error_paths)
        return d


class FaultState:
    """Thread-safe holder of the current :class:`Faults` that also consumes one-shot counters."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.faults = faults or Faults()

    def set(self, data: dict[str, Any], *, reset: bool = False) -> Faults:
        """Update (or with ``reset`` replace) the knobs."""
        with self._lock:
            self.faults = Faults.from_mapping(data, None if reset else self.faults)
            return self.faults

    def take_error(self, path: str) -> int | None:
        """Consume one injected error for ``path``; its HTTP status or None."""
        with self._lock:
            f = self.faults
            if f.error_burst <= 0 or (f.error_paths and not any(p in path for p in f.error_paths)):
                return None
            self.faults = replace(f, error_burst=f.error_burst - 1)
            return f.error_status

    def take_drop(self) -> bool:
        """Consume one dropped connection."""
        with self._lock:
            if self.faults.drop_connections <= 0:
                return False
            self.faults = replace(self.faults, drop_connections=self.faults.drop_connections - 1)
            return True

    def take_aws_throttle(self) -> bool:
        """Consume one skipped AWS call."""
        with self._lock:
            if self.faults.aws_throttle <= 0:
                return False
            self.faults = replace(self.faults, aws_throttle=self.faults.aws_throttle - 1)
            return True
