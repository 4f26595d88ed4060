"""Alerts through Airflow's notifier mechanism and metrics through Airflow's Stats, end to end (dag.test()
against the emulator): an OOM run, a recommendation waiting for Apply (auto-apply off) and an SLA miss
reach a real ``BaseNotifier`` subclass configured deployment-wide in ``[gradient] alert_notifiers``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

NOTIFIER_MODULE = '''
import json
from airflow.sdk import BaseNotifier


class FileNotifier(BaseNotifier):
    """A notifier like SlackNotifier/SmtpNotifier: templated text, sent by notify()."""

    template_fields = ("text",)

    def __init__(self, path, text):
        super().__init__()
        self.path = path
        self.text = text

    def notify(self, context):
        with open(self.path, "a") as f:
            f.write(json.dumps(dict(kind=context["gradient_alert"]["kind"], text=self.text)) + "\\n")


notifier = FileNotifier("{path}", "[{{{{ gradient_alert.kind }}}}] {{{{ gradient_alert.message }}}}")
'''

class RecordingStats:
    """A StatsLogger (Airflow's backend interface) that keeps what it was sent."""

    calls: list[tuple[str, str, Any, Any]] = []

    def incr(self, stat: str, count: int = 1, rate: int = 1, *, tags: Any = None) -> None:
        self.calls.append(("incr", stat, count, tags))

    def decr(self, stat: str, count: int = 1, rate: int = 1, *, tags: Any = None) -> None:
        self.calls.append(("decr", stat, count, tags))

    def gauge(self, stat: str, value: Any, rate: int = 1, delta: bool = False, *, tags: Any = None) -> None:
        self.calls.append(("gauge", stat, value, tags))

    def timing(self, stat: str, dt: Any, *, tags: Any = None) -> None:
        self.calls.append(("timing", stat, dt, tags))

    def timer(self, *args: Any, **kwargs: Any) -> Any:
        from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger

        return NoStatsLogger.timer(*args, **kwargs)


@pytest.fixture
def alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, RecordingStats]]:
    from airflow.configuration import conf
    from airflow.sdk._shared.observability.metrics import stats as stats_mod

    out = tmp_path / "alerts.jsonl"
    (tmp_path / "gradient_it_alerts.py").write_text(NOTIFIER_MODULE.format(path=out))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AIRFLOW__GRADIENT__ALERT_NOTIFIERS", "gradient_it_alerts.notifier")
    conf.set("gradient", "alert_notifiers", "gradient_it_alerts.notifier")
    recorder = RecordingStats()
    RecordingStats.calls = []
    saved = (stats_mod._factory, stats_mod._backend, stats_mod._export_legacy_names)
    stats_mod.initialize(factory=lambda: recorder, export_legacy_names=False)
    try:
        yield out, recorder
    finally:
        conf.remove_option("gradient", "alert_notifiers")
        stats_mod._factory, stats_mod._backend, stats_mod._export_legacy_names = saved
        sys.modules.pop("gradient_it_alerts", None)


def _dag(one_task_dag: Any, dag_id: str, node: str, profile: str, sla: float) -> Any:
    return one_task_dag(dag_id, {"node_type_id": node, "num_workers": 4}, task_id="t", notebook=profile,
                        gradient_sla_minutes=sla, gradient_auto_apply=False)


def _alerts(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_oom_waiting_recommendation_and_sla_miss_reach_the_notifier(
    one_task_dag: Any, gradient_store: Any, alerts: tuple[Path, RecordingStats]
) -> None:
    out, stats = alerts
    _dag(one_task_dag, "it_alert_oom", "c5.xlarge", "memory_agg", 600).test()
    sent = _alerts(out)
    assert [a["kind"] for a in sent] == ["oom", "recommendation_waiting"], sent
    assert sent[0]["text"].startswith("[oom] Gradient project it_alert_oom.t: Databricks run ")
    assert "OutOfMemoryError" in sent[0]["text"]  # the evidence of item 11, rendered by the notifier
    rec = gradient_store.latest_recommendation("it_alert_oom.t")
    assert f"recommendation {rec.id} is waiting for Apply" in sent[1]["text"]

    assert _dag(one_task_dag, "it_alert_sla", "m5.xlarge", "small_startup", 0.1).test().state == "success"
    kinds = [a["kind"] for a in _alerts(out)[2:]]
    assert kinds[0] == "sla_miss" and "over its 0.1-min SLA" in _alerts(out)[2]["text"]

    names = [(kind, stat) for kind, stat, _, _ in stats.calls]
    assert ("incr", "gradient.alert.oom") in names and ("incr", "gradient.alert.sla_miss") in names
    assert ("incr", "gradient.alert.recommendation_waiting") in names
    assert names.count(("incr", "gradient.run.recorded")) == 2
    costs = [(v, t) for kind, stat, v, t in stats.calls if stat == "gradient.run.cost_usd"]
    assert len(costs) == 2 and all(v > 0 for v, _ in costs) and costs[0][1] == {"app_id": "it_alert_oom.t"}


def test_alert_on_filters_and_a_broken_notifier_never_breaks_the_task(
    one_task_dag: Any, gradient_store: Any, alerts: tuple[Path, RecordingStats], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.configuration import conf

    out, _ = alerts
    monkeypatch.setenv("AIRFLOW__GRADIENT__ALERT_NOTIFIERS", "gradient_it_alerts.notifier,no_such_module.notifier")
    monkeypatch.setenv("AIRFLOW__GRADIENT__ALERT_ON", "sla_miss")
    conf.set("gradient", "alert_notifiers", "gradient_it_alerts.notifier,no_such_module.notifier")
    conf.set("gradient", "alert_on", "sla_miss")
    try:
        assert _dag(one_task_dag, "it_alert_only_sla", "m5.xlarge", "small_startup", 0.1).test().state == "success"
    finally:
        conf.remove_option("gradient", "alert_on")
    assert [a["kind"] for a in _alerts(out)] == ["sla_miss"]  # no recommendation_waiting alert
