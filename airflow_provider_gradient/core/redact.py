"""Redaction of secrets in Spark-style property maps (same rule as Spark's ``spark.redaction.regex``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Spark's default ``spark.redaction.regex``.
REDACTION_REGEX = re.compile(r"(?i)secret|password|token|access[.]key")
#: The text Spark puts in place of a redacted value.
REDACTED = "*********(redacted)"


def is_sensitive(key: str, value: object = None) -> bool:
    """Whether a property must be redacted: its key or its (string) value matches the regex.

    :param key: property name.
    :param value: property value (checked too when it is a string, as Spark does).
    """
    if REDACTION_REGEX.search(key):
        return True
    return isinstance(value, str) and REDACTION_REGEX.search(value) is not None


def redact_properties(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``mapping`` with sensitive values replaced by ``*********(redacted)``.

    :param mapping: property name -> value.
    """
    return {str(k): (REDACTED if is_sensitive(str(k), v) else v) for k, v in mapping.items()}
