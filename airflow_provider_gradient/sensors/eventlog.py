"""``GradientEventLogSensor``: wait for a Databricks run's event log, then record the run.

For a separate "record run" task (like Gradient's "Record Job Run" job) downstream of any Databricks
operator: ``run_id`` is usually templated from the operator's ``run_id`` XCom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_gradient.operators.steps import XCOM_RUN_COST, safe_record


class GradientEventLogSensor(BaseSensorOperator):
    """Wait until the event log of Databricks run ``run_id`` is complete, then record the run.

    Projects are found from the ``gradient:project-id`` tags of the run's clusters (set when the
    submitting task was optimised) or, failing that, from ``gradient_app_id``.

    :param run_id: Databricks run id (templated), e.g. ``"{{ ti.xcom_pull('etl', key='run_id') }}"``.
    :param databricks_conn_id: Databricks connection.
    :param gradient_app_id: app id of the project when the clusters carry no Gradient tags.
    :param gradient_conn_id: Gradient connection.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param record_incomplete: on timeout, record the run with an incomplete log instead of failing.
    """

    template_fields: Sequence[str] = ("run_id", "gradient_app_id")

    def __init__(
        self,
        *,
        run_id: int | str,
        databricks_conn_id: str = "databricks_default",
        gradient_app_id: str | None = None,
        gradient_conn_id: str | None = None,
        deferrable: bool = False,
        record_incomplete: bool = True,
        poll_interval_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.databricks_conn_id = databricks_conn_id
        self.gradient_app_id = gradient_app_id
        self.gradient_conn_id = gradient_conn_id
        self.deferrable = deferrable
        self.record_incomplete = record_incomplete
        self.poll_interval_s = poll_interval_s if poll_interval_s is not None else self.poke_interval
        self.gradient_log_tries = 1  # the sensor already waited

    def poke(self, context: Any) -> bool:
        from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook
        from airflow_provider_gradient.hooks.collectors.run import eventlog_status

        ready, reason = eventlog_status(GradientDatabricksHook(self.databricks_conn_id), int(self.run_id))
        if not ready:
            self.log.info("Gradient: event log of run %s not ready: %s", self.run_id, reason)
        return ready

    def execute(self, context: Any) -> Any:
        if self.deferrable:
            from airflow_provider_gradient.triggers.eventlog import GradientEventLogTrigger

            self.defer(
                trigger=GradientEventLogTrigger(
                    run_id=int(self.run_id),
                    databricks_conn_id=self.databricks_conn_id,
                    timeout_s=float(self.timeout),
                    poll_interval_s=float(self.poll_interval_s),
                ),
                method_name="execute_complete",
            )
        try:
            super().execute(context)
        except Exception as e:
            if not self.record_incomplete or "Timeout" not in type(e).__name__:
                raise
            self.log.warning("Gradient: event log of run %s still incomplete; recording it anyway", self.run_id)
        return self._record(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        event = event or {}
        if event.get("status") != "ready":
            self.log.warning("Gradient: event log of run %s: %s (%s)", self.run_id, event.get("status"), event.get("reason"))
            if not self.record_incomplete:
                from airflow.exceptions import AirflowException

                raise AirflowException(f"event log of run {self.run_id} not complete: {event.get('reason')}")
        return self._record(context)

    def _record_queued(self) -> None:
        """Record every run of this Databricks workspace still queued (a run that could not be recorded when
        it ended, by any task): the sensor is the DAG's "record runs" step. Never raises."""
        from airflow_provider_gradient.operators.steps import get_client, sync_pending

        try:
            done = sync_pending(get_client(self), select=lambda p: p.databricks_conn_id == self.databricks_conn_id)
        except Exception as e:  # noqa: BLE001 - the sensor's own run is recorded; the queue waits
            self.log.warning("Gradient: queued runs not recorded: %s: %s", type(e).__name__, e)
            return
        for d in done:
            if d.recorded:
                self.log.info("Gradient: recorded queued Databricks run %s", d.pending.databricks_run_id)
            else:
                self.log.warning("Gradient: queued Databricks run %s still not recorded: %s",
                                 d.pending.databricks_run_id, d.error)

    def _record(self, context: Any) -> float | None:
        from airflow_provider_gradient.core.payload import payload_from_run, submitted_payload
        from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook

        run = GradientDatabricksHook(self.databricks_conn_id).get_run(int(self.run_id))
        payload = submitted_payload(payload_from_run(run), run)
        results = safe_record(self, context, int(self.run_id), payload=payload)
        if results and not any(r.error for r in results):
            self._record_queued()
        total = sum(r.cost_usd or 0.0 for r in results if r.error is None)
        if results:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key=XCOM_RUN_COST, value=round(total, 6))
        return total if results else None

