"""How a user names a project: by its id (digits) or by its app id (anything else)."""

from __future__ import annotations

#: A project id has at most this many digits; a longer string of digits is an app id.
MAX_ID_DIGITS = 17


def project_id_of(ref: str) -> int | None:
    """The project id ``ref`` names (ASCII digits, at most :data:`MAX_ID_DIGITS`), else None (an app id).

    :param ref: a project reference as typed (CLI argument, URL segment, API ``ref``).
    """
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= MAX_ID_DIGITS else None


def project_ref(ref: str) -> int | str:
    """``ref`` as an id when it is one (:func:`project_id_of`), else as an app id.

    :param ref: a project reference as typed.
    """
    pid = project_id_of(ref)
    return ref if pid is None else pid
