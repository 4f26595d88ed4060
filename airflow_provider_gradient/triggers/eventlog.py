"""``GradientEventLogTrigger``: wait in the triggerer until a Databricks run's event log is delivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class GradientEventLogTrigger(BaseTrigger):
    """Poll until the run is terminal and every cluster's final ``eventlog`` part is delivered.

    Fires ``{"status": "ready" | "timeout" | "error", "run_id", "reason"}``; a timeout is not an error:
    the run is then recorded with an incomplete log.

    :param run_id: Databricks run id.
    :param databricks_conn_id: Databricks connection.
    :param timeout_s: give up after this long.
    :param poll_interval_s: seconds between checks.
    """

    def __init__(
        self, run_id: int, databricks_conn_id: str = "databricks_default", timeout_s: float = 300.0,
        poll_interval_s: float = 10.0,
    ) -> None:
        super().__init__()
        self.run_id = int(run_id)
        self.databricks_conn_id = databricks_conn_id
        self.timeout_s = float(timeout_s)
        self.poll_interval_s = float(poll_interval_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "run_id": self.run_id,
                "databricks_conn_id": self.databricks_conn_id,
                "timeout_s": self.timeout_s,
                "poll_interval_s": self.poll_interval_s,
            },
        )

    def _check(self) -> tuple[bool, str]:
        from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook
        from airflow_provider_gradient.hooks.collectors.run import eventlog_status

        return eventlog_status(GradientDatabricksHook(self.databricks_conn_id), self.run_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout_s
        reason = ""
        while True:
            try:
                ready, reason = await asyncio.to_thread(self._check)
            except Exception as e:  # noqa: BLE001 - report, the task records what it can
                ready, reason = False, f"{type(e).__name__}: {e}"
            if ready:
                yield TriggerEvent({"status": "ready", "run_id": self.run_id, "reason": ""})
                return
            if time.monotonic() >= deadline:
                yield TriggerEvent({"status": "timeout", "run_id": self.run_id, "reason": reason})
                return
            self.log.info("Gradient: waiting for the event log of run %s: %s", self.run_id, reason)
            await asyncio.sleep(self.poll_interval_s)
