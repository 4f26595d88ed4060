"""The one redaction rule of the provider: what is a secret, applied wherever data enters the store.

* **Names** (a dict key at any depth, a Spark/Hadoop property, an environment variable): Spark's own
  ``spark.redaction.regex`` (``(?i)secret|password|token|access[.]key``) plus ``credential``, ``private``,
  ``webhook``, ``passwd``/``pwd``, ``signature``, ``authorization``, ``<api|access|account|client|...>.key``,
  a dotted property segment ``key`` (``fs.azure.account.key.<acct>...``) and an upper-case ``KEY`` part of an
  environment variable (``API_KEY``, ``SSH_KEY``; ``task_key`` is not a secret). The whole value goes.
* **Values of Spark-style properties** (a dotted name) matching Spark's regex go too, as Spark does.
* **Shapes in free text** (any string value, failure messages, log reasons, recommendation reasons, URLs):
  ``Bearer``/``Basic`` credentials, Databricks tokens (``dapi...``), AWS access key ids (``AKIA...``/``ASIA...``),
  JWTs, PEM private keys, ``user:password@`` in URLs, ``name=value`` / ``name: value`` pairs whose name is
  sensitive, and query-string signatures (``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``,
  ``X-Goog-Signature``, ``sig``, ``signature``, ``token``, ...). Only the secret part is replaced.

The replacement is Spark's ``*********(redacted)``. Pure functions: no Airflow, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Spark's default ``spark.redaction.regex``.
REDACTION_REGEX = re.compile(r"(?i)secret|password|token|access[.]key")
#: The text Spark puts in place of a redacted value.
REDACTED = "*********(redacted)"

#: Names whose value is a secret (Spark's regex is part of it).
SENSITIVE_NAME = re.compile(
    r"(?i:secret|passw(?:or)?d|pwd|token|credential|private|webhook|signature|authorization"
    r"|(?:access|account|api|auth|client|encryption|master|sas|secret|service|shared|signing|storage)[._-]?key)"
    r"|(?:^|\.)[Kk][Ee][Yy](?:$|\.)"  # a dotted property segment named key
    r"|(?:^|_)KEY(?:$|_|S$)"  # an environment variable with a KEY part
)

_QUERY_SECRETS = (
    r"x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential"
    r"|sig|signature|token|access_token|id_token|refresh_token|api_key|apikey|key|password|secret|code"
)
_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys (whole block)
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S
        ),
        REDACTED,
    ),
    # Authorization header values
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2" + REDACTED),
    # Databricks personal access tokens, AWS access key ids, JWTs
    (re.compile(r"\bdapi[0-9A-Za-z]{16,}(?:-\d+)?\b"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]+@"), r"\1:" + REDACTED + "@"),
    # query-string signatures and tokens
    (re.compile(rf"(?i)([?&;](?:{_QUERY_SECRETS})=)[^&#\s\"']+"), r"\1" + REDACTED),
)
#: ``name=value`` / ``name: value`` / ``"name": "value"`` in free text where the name is sensitive.
_PAIR = re.compile(
    r"""(?P<name>["']?[A-Za-z_][\w.-]*["']?)(?P<sep>\s*[=:]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;&"']+)"""
)


def is_sensitive_name(name: object) -> bool:
    """Whether a value stored under ``name`` (a key, property or variable name) is a secret.

    :param name: the key; non-strings are never sensitive.
    """
    return isinstance(name, str) and SENSITIVE_NAME.search(name) is not None


def is_sensitive(key: str, value: object = None) -> bool:
    """Whether a Spark-style property must be redacted: its name, or (as Spark does) its string value.

    :param key: property name.
    :param value: property value (checked against Spark's regex when it is a string).
    """
    if is_sensitive_name(key):
        return True
    return isinstance(value, str) and REDACTION_REGEX.search(value) is not None


def _pair(m: re.Match[str]) -> str:
    name = m.group("name").strip("\"'")
    value = m.group("value")
    if not is_sensitive_name(name) or value.strip("\"'") in ("", REDACTED) or value.startswith("*"):
        return m.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{m.group('name')}{m.group('sep')}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """``text`` with every secret shape replaced (see the module docstring); other text unchanged.

    :param text: free text (a message, a reason, a URL).
    """
    if not text:
        return text
    for pattern, repl in _TEXT_RULES:
        text = pattern.sub(repl, text)
    return _PAIR.sub(_pair, text)


def redact_properties(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a flat property map with secrets replaced by ``*********(redacted)``.

    :param mapping: property name -> value.
    """
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        key = str(k)
        if is_sensitive(key, v):
            out[key] = REDACTED
        else:
            out[key] = redact_text(v) if isinstance(v, str) else v
    return out


_SCALARS = (str, int, float, bool, type(None))


def redact_tree(obj: Any) -> Any:
    """A copy of ``obj`` (dicts / lists / scalars, any depth) with every secret replaced.

    A sensitive key loses its whole value; a dotted (Spark-style) key whose string value matches Spark's
    regex loses it too; ``[name, value]`` pairs are treated like a key and its value; every other string is
    passed through :func:`redact_text`.

    :param obj: JSON-like data.
    """
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            key = str(k)
            if is_sensitive_name(key):
                out[key] = REDACTED
            elif isinstance(v, str) and "." in key and REDACTION_REGEX.search(v):
                out[key] = REDACTED
            else:
                out[key] = redact_tree(v)
        return out
    if isinstance(obj, (list, tuple)):
        # Spark properties are sometimes lists of [name, value] pairs
        if (
            len(obj) == 2
            and isinstance(obj[0], str)
            and isinstance(obj[1], _SCALARS)
            and is_sensitive_name(obj[0])
        ):
            return [obj[0], REDACTED]
        return [redact_tree(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def redact_optional(text: str | None) -> str | None:
    """:func:`redact_text` of ``text``, ``None`` kept.

    :param text: free text or None.
    """
    return None if text is None else redact_text(text)
