"""Redact secrets from nested JSON (run metrics, submitted cluster configs) before anything is stored.

The rule is Spark's default ``spark.redaction.regex`` (``(?i)secret|password|token|access[.]key``),
applied to keys at every depth (the whole value goes when a key matches) and, as Spark does, to string
values of scalar properties.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

try:  # the pure rule lives in core/redact.py
    from airflow_provider_gradient.core.redact import REDACTED, REDACTION_REGEX
except ImportError:  # pragma: no cover - core/redact.py not there yet
    REDACTION_REGEX = re.compile(r"(?i)secret|password|token|access[.]key")
    REDACTED = "*********(redacted)"

_SCALARS = (str, int, float, bool, type(None))


def _sensitive_key(key: object) -> bool:
    return isinstance(key, str) and REDACTION_REGEX.search(key) is not None


def _sensitive_value(value: object) -> bool:
    return isinstance(value, str) and REDACTION_REGEX.search(value) is not None


def redact_tree(obj: Any) -> Any:
    """A copy of ``obj`` (dicts / lists / scalars) with secrets replaced by ``*********(redacted)``."""
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if _sensitive_key(k):
                out[str(k)] = REDACTED
            elif isinstance(v, _SCALARS):
                out[str(k)] = REDACTED if _sensitive_value(v) and "." in str(k) else v
            else:
                out[str(k)] = redact_tree(v)
        return out
    if isinstance(obj, (list, tuple)):
        # Spark properties are sometimes lists of [key, value] pairs
        if (
            len(obj) == 2
            and isinstance(obj[0], str)
            and isinstance(obj[1], _SCALARS)
            and _sensitive_key(obj[0])
        ):
            return [obj[0], REDACTED]
        return [redact_tree(v) for v in obj]
    return obj
