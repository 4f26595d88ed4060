"""Alerts and metrics after a run was recorded: SLA missed, out of memory, a recommendation waiting for Apply.

Deployment-wide, in ``[gradient]``:

* ``alert_notifiers`` -- comma-separated dotted paths to Airflow notifiers: ``BaseNotifier`` instances built
  in a module of yours (``SlackNotifier(...)``, ``SmtpNotifier(...)`` -- the providers work unchanged) or
  plain callables taking the context. Each alert calls every notifier with the task's context plus
  ``gradient_alert`` (``kind``, ``message``, ``project_id``, ``app_id``, ``databricks_run_id``,
  ``recommendation_id``, ``url``), so a template can say ``{{ gradient_alert.message }}``.
* ``alert_on`` -- which alerts to send: ``sla_miss``, ``oom``, ``recommendation_waiting`` (default all).

Metrics go through Airflow's ``Stats`` (StatsD or OpenTelemetry, as the deployment exports them):
``gradient.run.recorded``, ``gradient.run.cost_usd`` (gauge) and ``gradient.run.runtime_s`` (gauge) tagged
with the project's app id, and ``gradient.alert.<kind>`` per alert. Nothing here ever raises into the task.
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_gradient.service.record import RecordResult
from airflow_provider_gradient.service.schemas import Project, Recommendation, Run
from airflow_provider_gradient.settings import ALERT_KINDS, get_settings

log = logging.getLogger(__name__)

KINDS = ALERT_KINDS


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert about a project's run."""

    kind: str
    message: str
    project_id: Any
    app_id: str
    databricks_run_id: Any
    recommendation_id: Any | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``gradient_alert`` dict a notifier's templates see."""
        return asdict(self)


def alerts_for(project: Project, run: Run, waiting_recommendation: Recommendation | None = None) -> list[Alert]:
    """The alerts one recorded run raises (pure).

    :param project: the project (settings: ``sla_minutes``, ``auto_apply``).
    :param run: the stored run.
    :param waiting_recommendation: the recommendation generated after the run, if any.
    """
    app_id, pid, run_id = project.app_id, project.id, run.databricks_run_id
    out: list[Alert] = []
    sla = project.settings.sla_minutes
    duration = run.duration_s
    if duration is None and run.start_ms is not None and run.end_ms is not None:
        duration = (run.end_ms - run.start_ms) / 1000.0
    if run.outcome == "oom":
        evidence = run.failure_message or "out of memory"
        out.append(Alert("oom", f"Gradient project {app_id}: Databricks run {run_id} ran out of memory. {evidence}",
                         pid, app_id, run_id))
    elif sla and duration is not None and duration > float(sla) * 60:
        out.append(Alert("sla_miss", f"Gradient project {app_id}: Databricks run {run_id} took "
                         f"{duration / 60:.1f} min, over its {float(sla):g}-min SLA.", pid, app_id, run_id))
    rec = waiting_recommendation
    if rec is not None and not project.settings.auto_apply and rec.state == "ready":
        out.append(Alert(
            "recommendation_waiting",
            f"Gradient project {app_id}: recommendation {rec.id} is waiting for Apply (auto-apply is off): "
            f"{rec.reason or ''}".strip(),
            pid, app_id, run_id, rec.id,
        ))
    return out


def enabled_kinds() -> set[str]:
    """``[gradient] alert_on`` as a set."""
    return set(get_settings().alert_on)


def load_notifiers() -> list[Any]:
    """The objects named by ``[gradient] alert_notifiers`` (a bad path is logged and skipped)."""
    out = []
    for path in get_settings().alert_notifiers:
        module, _, name = path.rpartition(".")
        try:
            out.append(getattr(importlib.import_module(module), name))
        except Exception as exc:  # noqa: BLE001 - a broken setting must not break tasks
            log.warning("Gradient: alert notifier %s not loadable: %s: %s", path, type(exc).__name__, exc)
    return out


def notify(alert: Alert, context: Mapping[str, Any] | None, notifiers: Sequence[Any]) -> int:
    """Call every notifier with the context plus ``gradient_alert``; return how many succeeded."""
    ctx = {**dict(context or {}), "gradient_alert": alert.to_dict()}
    sent = 0
    for notifier in notifiers:
        try:
            # BaseNotifier renders its template fields in place: use a copy so the next alert renders afresh
            target = copy.copy(notifier) if hasattr(notifier, "render_template_fields") else notifier
            target(ctx)
            sent += 1
        except Exception as exc:  # noqa: BLE001
            log.warning("Gradient: alert notifier %r failed: %s: %s", notifier, type(exc).__name__, exc)
    return sent


def _stats(name: str, value: float | None = None, *, tags: dict[str, Any] | None = None) -> None:
    try:
        from airflow.sdk.observability.stats import Stats

        if value is None:
            Stats.incr(name, tags=tags)
        else:
            Stats.gauge(name, value, tags=tags)
    except Exception:  # pragma: no cover - metrics must never break a task
        log.debug("could not emit metric %s", name, exc_info=True)


def after_record(results: Sequence[RecordResult], context: Mapping[str, Any] | None, logger: Any = None) -> None:
    """Metrics and alerts for the runs just recorded (their project and next recommendation came back with
    the record call: no further request); never raises."""
    logger = logger or log
    try:
        kinds = enabled_kinds()
        notifiers: list[Any] | None = None
        for r in results:
            run, project = r.run, r.project
            if r.error or run is None or project is None:
                continue
            tags = {"app_id": project.app_id}
            _stats("gradient.run.recorded", tags=tags)
            if r.cost_usd is not None:
                _stats("gradient.run.cost_usd", float(r.cost_usd), tags=tags)
            if run.duration_s is not None:
                _stats("gradient.run.runtime_s", float(run.duration_s), tags=tags)
            for alert in alerts_for(project, run, r.recommendation):
                if alert.kind not in kinds:
                    continue
                _stats(f"gradient.alert.{alert.kind}", tags=tags)
                logger.warning("Gradient alert (%s): %s", alert.kind, alert.message)
                if notifiers is None:
                    notifiers = load_notifiers()
                notify(alert, context, notifiers)
    except Exception as exc:  # noqa: BLE001 - alerts never break the task
        logger.warning("Gradient: alerts not sent: %s: %s", type(exc).__name__, exc)
