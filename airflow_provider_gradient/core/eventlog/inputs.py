"""Input discovery: what a path holds (file, directory, zip, tar), which members are log parts, their order.

Handles Databricks rollover sets (``eventlog-YYYY-MM-DD--HH-00[.gz]`` + ``eventlog``, each part headed
by a ``DBCEventLoggingListenerMetadata`` line), Spark 3 rolling ``eventlog_v2_*`` directories
(``events_N_<appid>[.codec]``, optional ``.compact``), Spark 1.x ``EVENT_LOG_1`` directories and the
``databricks_pricing.json`` hint file. Members are opened lazily and streamed; nothing is extracted.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from airflow_provider_gradient.core.eventlog.codecs import decoded_chunks
from airflow_provider_gradient.core.eventlog.errors import (
    CorruptCompressionError,
    DuplicateRolloverPartError,
    EmptyEventLogError,
    EventLogNotFoundError,
    MissingRolloverPartError,
    MixedSparkContextError,
    NotAnEventLogError,
    RolloverPartWithoutMetadataError,
    UnsupportedFormatError,
)

PRICING_FILE = "databricks_pricing.json"
_FIRST_LINE_CAP = 64 << 20
_GZIP = b"\x1f\x8b"
_SPARK_ROLLING = re.compile(
    r"^events_(?P<index>\d+)_(?P<app>.+?)(?P<compact>\.compact)?"
    r"(?:\.(?:lz4|lzf|snappy|zstd|zst|gz))?(?:\.inprogress)?$"
)
_DATABRICKS = re.compile(r"^eventlog(?:-(?P<stamp>\d{4}-\d{2}-\d{2}--\d{2}-\d{2}))?(?:\.[A-Za-z0-9]+)?$")
_MARKERS = re.compile(
    r"^(?:APPLICATION_COMPLETE|SPARK_VERSION_.*|COMPRESSION_CODEC_.*|appstatus_.*|_SUCCESS)$"
)

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True, slots=True)
class LogPart:
    """One event log file (or archive member) in replay order."""

    name: str
    opener: Opener
    first_event: str
    rollover: int | None = None
    context_id: str | None = None

    def chunks(self) -> Iterator[bytes]:
        """Decompressed byte chunks of this part."""
        with self.opener() as raw:
            yield from decoded_chunks(raw, self.name)


@dataclass(frozen=True, slots=True)
class LogInput:
    """The ordered parts of one application's log, plus hints found beside them."""

    parts: tuple[LogPart, ...]
    hints: dict[str, str] = field(default_factory=dict)
    container: str = "file"


def _is_junk(relname: str) -> bool:
    pieces = [p for p in relname.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not pieces:
        return True
    if any(p == "__MACOSX" or p.startswith(".") for p in pieces):
        return True
    base = pieces[-1]
    return base.endswith(".crc") or _MARKERS.match(base) is not None


def _first_line(opener: Opener, name: str) -> bytes | None:
    """The first non-blank line of a member (decompressed), or None when the member holds nothing."""
    buf = b""
    with opener() as raw:
        for chunk in decoded_chunks(raw, name):
            buf += chunk
            while True:
                stripped = buf.lstrip(b"\xef\xbb\xbf \t\r\n")
                nl = stripped.find(b"\n")
                if nl >= 0:
                    return stripped[:nl]
                buf = stripped
                break
            if len(buf) > _FIRST_LINE_CAP:
                raise NotAnEventLogError(f"{name}: first line longer than {_FIRST_LINE_CAP >> 20} MiB")
    buf = buf.strip()
    return buf or None


def _classify(name: str, opener: Opener) -> LogPart | None:
    line = _first_line(opener, name)
    if line is None:
        return None
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
        raise NotAnEventLogError(
            f"{name} is not a Spark event log (its first line is not a listener event; "
            "a previously parsed summary or other JSON mixed in?)"
        )
    kind = event["Event"]
    if kind == "DBCEventLoggingListenerMetadata":
        number = event.get("Rollover Number")
        ctx = event.get("SparkContext Id")
        return LogPart(
            name,
            opener,
            kind,
            number if isinstance(number, int) and not isinstance(number, bool) else None,
            None if ctx is None else str(ctx),
        )
    return LogPart(name, opener, kind)


def _read_pricing(name: str, opener: Opener) -> dict[str, str]:
    with opener() as raw:
        data = raw.read(1 << 20)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise NotAnEventLogError(f"{name}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise NotAnEventLogError(f"{name}: expected a JSON object with plan_type / compute_type")
    return {
        k: str(doc[k]) for k in ("plan_type", "compute_type") if isinstance(doc.get(k), str | int | float)
    }


def _basename(name: str) -> str:
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _order(parts: list[LogPart]) -> list[LogPart]:
    """Replay order of the parts of one application; raises on gaps, duplicates and mixtures."""
    if len(parts) <= 1:
        only = parts[0] if parts else None
        if only is not None and only.rollover:
            raise MissingRolloverPartError(range(only.rollover))
        return parts
    with_meta = [p for p in parts if p.first_event == "DBCEventLoggingListenerMetadata"]
    if with_meta and len(with_meta) != len(parts):
        names = ", ".join(p.name for p in parts if p.first_event != "DBCEventLoggingListenerMetadata")
        raise RolloverPartWithoutMetadataError(
            f"rollover part(s) without a DBCEventLoggingListenerMetadata header: {names}"
        )
    if with_meta:
        return _order_databricks(parts)
    rolling = [_SPARK_ROLLING.match(_basename(p.name)) for p in parts]
    if all(rolling):
        return _order_spark_rolling(parts, rolling)  # type: ignore[arg-type]
    dated = [_DATABRICKS.match(_basename(p.name)) for p in parts]
    if all(dated):
        keyed: dict[str, LogPart] = {}
        for part, m in zip(parts, dated, strict=True):
            stamp = m.group("stamp") if m else None
            key = stamp or "9999"  # the current part `eventlog` comes last
            if key in keyed:
                raise DuplicateRolloverPartError(
                    f"duplicate rollover part: {keyed[key].name} and {part.name}"
                )
            keyed[key] = part
        return [keyed[k] for k in sorted(keyed)]
    shown = ", ".join(p.name for p in parts[:5])
    raise UnsupportedFormatError(
        f"input holds {len(parts)} separate event logs ({shown}{', ...' if len(parts) > 5 else ''}); "
        "pass one of them"
    )


def _order_databricks(parts: list[LogPart]) -> list[LogPart]:
    contexts = sorted({p.context_id or "?" for p in parts})
    if len(contexts) > 1:
        raise MixedSparkContextError(
            f"rollover parts come from different SparkContexts: {', '.join(contexts)}"
        )
    by_number: dict[int, LogPart] = {}
    for part in parts:
        if part.rollover is None or part.rollover < 0:
            raise RolloverPartWithoutMetadataError(
                f"{part.name}: metadata header has no valid Rollover Number"
            )
        if part.rollover in by_number:
            raise DuplicateRolloverPartError(
                f"duplicate rollover part {part.rollover}: {by_number[part.rollover].name} and {part.name}"
            )
        by_number[part.rollover] = part
    top = max(by_number)
    missing = [n for n in range(top + 1) if n not in by_number]
    if missing:
        raise MissingRolloverPartError(missing)
    return [by_number[n] for n in range(top + 1)]


def _order_spark_rolling(parts: list[LogPart], matches: list[re.Match[str]]) -> list[LogPart]:
    apps = sorted({m.group("app") for m in matches})
    if len(apps) > 1:
        raise MixedSparkContextError(f"rolling event log files of different applications: {', '.join(apps)}")
    compact = [int(m.group("index")) for m in matches if m.group("compact")]
    start = max(compact) if compact else 1
    by_index: dict[int, LogPart] = {}
    for part, m in zip(parts, matches, strict=True):
        index = int(m.group("index"))
        if index < start or (index == start and compact and not m.group("compact")):
            continue  # already folded into the compact file
        if index in by_index:
            raise DuplicateRolloverPartError(
                f"duplicate event log file {index}: {by_index[index].name} and {part.name}"
            )
        by_index[index] = part
    if not by_index:
        raise EmptyEventLogError("rolling event log directory holds no event files")
    missing = [n for n in range(start, max(by_index) + 1) if n not in by_index]
    if missing:
        raise MissingRolloverPartError(missing, "event log file")
    return [by_index[n] for n in sorted(by_index)]


def _open_file(path: Path) -> BinaryIO:
    return open(path, "rb")


def _members_dir(root: Path) -> Iterator[tuple[str, Opener]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            rel = full.relative_to(root).as_posix()
            if _is_junk(rel) or full.stat().st_size == 0:
                continue
            yield rel, functools.partial(_open_file, full)


def _members_zip(zf: zipfile.ZipFile) -> Iterator[tuple[str, Opener]]:
    for info in zf.infolist():
        if info.is_dir() or _is_junk(info.filename) or info.file_size == 0:
            continue
        yield info.filename, functools.partial(zf.open, info)  # type: ignore[misc]


def _members_tar(tf: tarfile.TarFile) -> Iterator[tuple[str, Opener]]:
    for info in tf.getmembers():
        if not info.isfile() or _is_junk(info.name) or info.size == 0:
            continue

        def opener(i: tarfile.TarInfo = info) -> BinaryIO:
            f = tf.extractfile(i)
            if f is None:  # pragma: no cover - isfile() members always have data
                raise UnsupportedFormatError(f"{i.name}: cannot read tar member")
            return f  # type: ignore[return-value]

        yield info.name, opener


def _drop_compacted(members: list[tuple[str, Opener]]) -> list[tuple[str, Opener]]:
    """Spark 3 rolling logs: files older than the newest ``.compact`` file are folded into it."""
    compact = [
        int(m.group("index"))
        for m in (_SPARK_ROLLING.match(_basename(n)) for n, _ in members)
        if m is not None and m.group("compact")
    ]
    if not compact:
        return members
    newest = max(compact)
    kept = []
    for name, opener in members:
        m = _SPARK_ROLLING.match(_basename(name))
        if m is not None and int(m.group("index")) < newest:
            continue
        kept.append((name, opener))
    return kept


def _archive_kind(opener: Opener) -> str | None:
    """``"zip"`` / ``"tar"`` when a member is itself an archive (optionally gzip-compressed), else None."""
    with opener() as raw:
        head = raw.read(512)
        if head.startswith(_GZIP):
            try:
                d = zlib.decompressobj(31)
                head = d.decompress(head + raw.read(1 << 16), 512)
            except zlib.error:
                return None  # the codec layer reports corrupt gzip data with the member's name
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head[257:262] == b"ustar" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "tar"
    return None


def _nested(
    name: str, opener: Opener, kind: str, stack: contextlib.ExitStack
) -> Iterator[tuple[str, Opener]]:
    """The members of an archive found inside the input (a ``.zip``, ``.zip.gz``, ``.tar.gz`` part),
    named ``<archive path>/<member path>``; the archive stays open while ``stack`` does.
    """
    raw = stack.enter_context(opener())
    head = raw.read(2)
    raw.seek(0)
    stream: BinaryIO = raw
    if head == _GZIP:
        stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[assignment]
    try:
        if kind == "zip":
            zf = stack.enter_context(zipfile.ZipFile(stream))
            inner = list(_members_zip(zf))
        else:
            tf = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))
            inner = list(_members_tar(tf))
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError) as exc:
        raise CorruptCompressionError(f"{name}: corrupt {kind} archive ({exc})") from None
    for inner_name, inner_opener in inner:
        yield f"{name}/{inner_name}", inner_opener


def _expand(
    members: Iterator[tuple[str, Opener]], stack: contextlib.ExitStack
) -> Iterator[tuple[str, Opener]]:
    """Members, with the archives among them replaced by their own members (one level deep)."""
    for name, opener in members:
        kind = _archive_kind(opener)
        if kind is None:
            yield name, opener
            continue
        for inner_name, inner_opener in _nested(name, opener, kind, stack):
            if _archive_kind(inner_opener) is not None:
                raise UnsupportedFormatError(f"{inner_name}: an archive inside an archive inside the input")
            yield inner_name, inner_opener


def _collect(
    members: Iterator[tuple[str, Opener]], container: str, label: str, stack: contextlib.ExitStack
) -> LogInput:
    parts: list[LogPart] = []
    hints: dict[str, str] = {}
    listed = list(_expand(members, stack))
    seen = len(listed)
    for name, opener in _drop_compacted(listed):
        if _basename(name) == PRICING_FILE:
            hints.update(_read_pricing(name, opener))
            continue
        part = _classify(name, opener)
        if part is not None:
            parts.append(part)
    if not parts:
        if container == "file":
            raise EmptyEventLogError(f"{label} holds no event log lines (only blank lines)")
        what = "holds only blank files" if seen else "holds no event-log files"
        raise EmptyEventLogError(f"{container} {label} {what} (junk such as .DS_Store / __MACOSX is ignored)")
    return LogInput(tuple(_order(parts)), hints, container)


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[LogInput]:
    """Discover the parts of the event log at ``path`` (kept open while the context lasts).

    :param path: a file (plain or compressed), a directory, a zip or a tar(.gz) archive.
    :raises EventLogError: any problem with the input (see errors.py).
    """
    p = Path(path)
    if not p.exists():
        raise EventLogNotFoundError(f"no such file or directory: {p}")
    with contextlib.ExitStack() as stack:
        yield _open(p, stack)


def _open(p: Path, stack: contextlib.ExitStack) -> LogInput:
    if p.is_dir():
        return _collect(_members_dir(p), "directory", p.name or str(p), stack)
    try:
        if p.stat().st_size == 0:
            raise EmptyEventLogError(f"{p.name} is empty")
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise EventLogNotFoundError(f"cannot read {p}: {exc.strerror or exc}") from None
    if magic.startswith(b"PK"):
        try:
            zf = zipfile.ZipFile(p)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise CorruptCompressionError(f"{p.name}: corrupt zip archive ({exc})") from None
        stack.enter_context(zf)
        try:
            return _collect(_members_zip(zf), "zip", p.name, stack)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, zlib.error, EOFError) as exc:
            raise CorruptCompressionError(f"{p.name}: corrupt zip archive ({exc})") from None
    if _is_tar(p):
        try:
            tf = tarfile.open(p, "r:*")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CorruptCompressionError(f"{p.name}: corrupt tar archive ({exc})") from None
        stack.enter_context(tf)
        try:
            return _collect(_members_tar(tf), "tar", p.name, stack)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise CorruptCompressionError(f"{p.name}: corrupt tar archive ({exc})") from None
    return _collect(iter([(p.name, functools.partial(_open_file, p))]), "file", p.name, stack)


def _is_tar(p: Path) -> bool:
    try:
        return tarfile.is_tarfile(p)
    except (OSError, EOFError, tarfile.TarError, ValueError):
        return False
