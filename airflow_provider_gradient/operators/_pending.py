"""Durable queue of Databricks runs that could not be recorded yet (optimiser down, hung or erroring).

When the record step fails, :func:`remember` writes one small JSON file per Databricks run into
``[gradient] pending_dir`` (default ``$AIRFLOW_HOME/gradient/pending``): the run id, the Databricks
connection, the project's app id and Airflow task, where the run's event log is and why it was not recorded.
Nothing secret is written: the error text, the log destinations and ``extra`` go through the one redaction rule
(``core/redact.py``) first, and the folder (0700) and its files (0600) are private to the Airflow user. A file is
written whole or not at all (a temporary file, synced, then renamed over the entry). :func:`sync_pending` records them later -- after the project's next task recorded its own run,
after ``GradientEventLogSensor`` recorded one, or with ``gradient runs sync`` -- and forgets each one
once it is stored. Recording is idempotent on the Databricks run id, so a run recorded twice (by the
queue and by a re-delivery) is stored once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.core.redact import redact_text, redact_tree

if TYPE_CHECKING:
    from airflow_provider_gradient.operators._record import RunToRecord
    from airflow_provider_gradient.service.client import GradientClient

log = logging.getLogger(__name__)

__all__ = ["PendingRun", "SyncResult", "forget", "pending_dir", "pending_entry", "pending_runs", "remember", "run_of", "settle", "sync_pending"]


@dataclass(frozen=True)
class PendingRun:
    """A Databricks run still to be recorded.

    :param databricks_run_id: the run.
    :param databricks_conn_id: connection to read it with.
    :param app_id: base app id of its project(s) (clusters without Gradient tags).
    :param log_destinations: where the clusters deliver their logs (``cluster_log_conf``).
    :param attempts: failed recording attempts so far; ``last_error`` the latest reason.
    """

    databricks_run_id: int
    databricks_conn_id: str = "databricks_default"
    app_id: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    airflow_run_id: str | None = None
    try_number: int | None = None
    map_index: int | None = None
    log_destinations: tuple[str, ...] = ()
    queued_ms: int = 0
    attempts: int = 0
    last_error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The entry as written to its file, secrets redacted (error text, log destinations, ``extra``)."""
        d = dataclasses.asdict(self)
        d["log_destinations"] = [redact_text(str(dest)) for dest in self.log_destinations]
        d["extra"] = redact_tree(dict(self.extra))
        d["last_error"] = None if self.last_error is None else redact_text(self.last_error)
        return d

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingRun:
        names = {f.name for f in dataclasses.fields(cls)}
        clean = {k: v for k, v in data.items() if k in names}
        clean["log_destinations"] = tuple(clean.get("log_destinations") or ())
        clean["databricks_run_id"] = int(clean["databricks_run_id"])
        return cls(**clean)


@dataclass(frozen=True)
class SyncResult:
    """What syncing one pending run did: recorded (and forgotten) or still pending with the reason."""

    pending: PendingRun
    recorded: bool
    error: str | None = None
    results: tuple[Any, ...] = ()


def pending_dir() -> Path:
    """``[gradient] pending_dir``, default ``$AIRFLOW_HOME/gradient/pending``."""
    from airflow_provider_gradient.settings import get_settings

    return get_settings().resolved_pending_dir()


#: Longest reason kept with an entry.
MAX_ERROR_CHARS = 500


def _path(folder: Path, run_id: int) -> Path:
    return folder / f"run-{int(run_id)}.json"


def _reason(text: str) -> str:
    """An error text as kept with an entry: redacted first, then shortened (never half a secret)."""
    return redact_text(text)[:MAX_ERROR_CHARS]


def _private_dir(folder: Path) -> None:
    """Create ``folder`` private to this user (0700), or tighten it when group or others may enter it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        try:
            folder.chmod(0o700)
        except OSError as e:
            log.warning("Gradient: could not make the pending-run folder %s private: %s", folder, e)


def remember(entry: PendingRun, folder: Path | None = None) -> Path:
    """Write (or replace) the entry of ``entry.databricks_run_id`` atomically, secrets redacted, readable by
    this user only (file 0600 in a 0700 folder); returns its file."""
    folder = folder or pending_dir()
    _private_dir(folder)
    target = _path(folder, entry.databricks_run_id)
    if not entry.queued_ms:
        entry = dataclasses.replace(entry, queued_ms=time.time_ns() // 1_000_000)
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".tmp", dir=folder)  # created 0600
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(entry.to_json(), fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target


def forget(run_id: int, folder: Path | None = None) -> bool:
    """Drop the entry of ``run_id`` (True when there was one)."""
    try:
        _path(folder or pending_dir(), run_id).unlink()
        return True
    except FileNotFoundError:
        return False


def pending_runs(folder: Path | None = None) -> list[PendingRun]:
    """Every pending run, oldest first (unreadable files are skipped with a warning)."""
    folder = folder or pending_dir()
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("run-*.json")):
        try:
            out.append(PendingRun.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("Gradient: pending-run file %s unreadable (%s); left in place", path, e)
    return sorted(out, key=lambda p: (p.queued_ms, p.databricks_run_id))


def pending_entry(target: RunToRecord, error: str) -> PendingRun:
    """The queue entry of a run that could not be recorded (log destinations from the task's payload)."""
    from airflow_provider_gradient.core.payload import find_clusters, get_cluster, log_destination

    dests: list[str] = []
    try:
        for slot in find_clusters(target.payload):
            dest = log_destination(get_cluster(target.payload, slot))
            if dest and dest not in dests:
                dests.append(dest)
    except Exception:  # noqa: BLE001 - the run id alone is enough to record it later
        log.debug("no log destination for run %s", target.databricks_run_id, exc_info=True)
    try_number = target.airflow.get("try_number")
    map_index = target.airflow.get("map_index")
    return PendingRun(
        databricks_run_id=target.databricks_run_id,
        databricks_conn_id=target.databricks_conn_id,
        app_id=target.app_id,
        dag_id=target.dag_id,
        task_id=target.task_id,
        airflow_run_id=target.airflow.get("airflow_run_id"),
        try_number=int(try_number) if isinstance(try_number, int) else None,
        map_index=int(map_index) if isinstance(map_index, int) else None,
        log_destinations=tuple(dests),
        last_error=_reason(error),
        attempts=1,
    )


def run_of(entry: PendingRun) -> RunToRecord:
    """What the record step needs of a queued run (its clusters come from ``runs/get``)."""
    from airflow_provider_gradient.operators._record import RunToRecord

    airflow = {"dag_id": entry.dag_id, "task_id": entry.task_id, "airflow_run_id": entry.airflow_run_id,
               "try_number": entry.try_number, "map_index": entry.map_index}
    return RunToRecord(
        databricks_run_id=entry.databricks_run_id,
        app_id=entry.app_id or f"{entry.dag_id}.{entry.task_id}",
        dag_id=entry.dag_id,
        task_id=entry.task_id,
        databricks_conn_id=entry.databricks_conn_id,
        airflow={k: v for k, v in airflow.items() if v is not None},
        log_tries=3,
        log_backoff_s=0.5,
    )


def sync_pending(
    client: GradientClient,
    *,
    select: Callable[[PendingRun], bool] | None = None,
    folder: Path | None = None,
    record: Callable[[RunToRecord, GradientClient], Iterable[Any]] | None = None,
) -> list[SyncResult]:
    """Record the pending runs (all, or those ``select`` keeps) through ``client``; never raises.

    A run whose every cluster was stored is forgotten; otherwise its entry stays with one more attempt.
    """
    from airflow_provider_gradient.operators._record import record_run

    folder = folder or pending_dir()
    out: list[SyncResult] = []
    for entry in pending_runs(folder):
        if select is not None and not select(entry):
            continue
        try:
            results = tuple((record or record_run)(run_of(entry), client))
            errors = [r.error for r in results if r.error]
            if not results:
                errors = ["no cluster of the run could be matched to a project"]
        except Exception as e:  # noqa: BLE001 - keep it pending, say why
            results, errors = (), [f"{type(e).__name__}: {e}"]
        if errors:
            failed = dataclasses.replace(entry, attempts=entry.attempts + 1, last_error=_reason("; ".join(errors)))
            try:
                remember(failed, folder)
            except OSError as e:
                log.warning("Gradient: could not update pending run %s: %s", entry.databricks_run_id, e)
            out.append(SyncResult(failed, False, failed.last_error, results))
        else:
            forget(entry.databricks_run_id, folder)
            out.append(SyncResult(entry, True, None, results))
    return out


def settle(target: RunToRecord, client: GradientClient | None, failure: str | None, logger: Any = None) -> None:
    """After recording ``target``: a run not recorded (``failure`` says why) is queued; a recorded one leaves
    the queue and the DAG's other queued runs are recorded (through ``client``). Never raises."""
    logger = logger or log
    run_id = target.databricks_run_id
    if failure or client is None:
        try:
            path = remember(pending_entry(target, failure or "no Gradient client"))
            logger.warning("Gradient: Databricks run %s queued for recording later (%s); `gradient runs sync` "
                           "records it now", run_id, path)
        except Exception as e:  # noqa: BLE001
            logger.warning("Gradient: could not queue Databricks run %s for later: %s: %s", run_id,
                           type(e).__name__, e)
        return
    try:
        forget(run_id)
        for done in sync_pending(client, select=lambda p: p.dag_id == target.dag_id and p.databricks_run_id != run_id):
            if done.recorded:
                logger.info("Gradient: recorded queued Databricks run %s", done.pending.databricks_run_id)
            else:
                logger.warning("Gradient: queued Databricks run %s still not recorded: %s",
                               done.pending.databricks_run_id, done.error)
    except Exception as e:  # noqa: BLE001
        logger.warning("Gradient: could not record the queued runs: %s: %s", type(e).__name__, e)
