"""What the collectors gathered about one cluster of one Databricks run: frozen value objects (no Airflow, no network).

The collectors (``hooks/collectors``) fill :class:`CollectedRun`: run state, the cluster's ``clusters/get`` answer
and events, cloud instances/volumes and the parsed event log. :mod:`~airflow_provider_gradient.service.run_cost`
prices it; :mod:`~airflow_provider_gradient.service.ingest` turns it into the service's ``RunIn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import AppSummary

LogStatus = Literal["complete", "incomplete", "missing"]


class IngestError(ValueError):
    """The collected facts cannot be turned into a run record (names what is missing)."""


@dataclass(frozen=True, slots=True)
class RunStateFacts:
    """Databricks run state (``runs/get`` ``state``)."""

    life_cycle_state: str
    result_state: str = ""
    state_message: str = ""

    @classmethod
    def from_api(cls, state: Mapping[str, Any] | None) -> RunStateFacts:
        state = state or {}
        return cls(
            str(state.get("life_cycle_state") or ""),
            str(state.get("result_state") or ""),
            str(state.get("state_message") or ""),
        )


@dataclass(frozen=True, slots=True)
class CloudInstance:
    """A VM seen in the cloud account (EC2 instance / Azure VM) tagged with the cluster id."""

    instance_id: str
    instance_type: str
    market: str  # "on_demand" | "spot"
    start_ms: int
    end_ms: int | None = None
    role: str | None = None  # "driver" | "worker" | None (unknown)
    state_reason: str | None = None  # why it ended, e.g. EC2 "Server.SpotInstanceTermination"
    zone: str | None = None  # where it ran: EC2 availability zone ("us-west-2a") or Azure location ("eastus")


@dataclass(frozen=True, slots=True)
class CloudVolume:
    """A disk attached to the cluster's VMs (EBS volume / Azure managed disk)."""

    volume_id: str
    volume_type: str
    size_gb: float
    start_ms: int
    end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """One cluster of a run: ``clusters/get``, its events and what the cloud reported."""

    cluster_id: str
    cluster: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    instances: tuple[CloudInstance, ...] = ()
    volumes: tuple[CloudVolume, ...] = ()
    spark_context_id: str | None = None


@dataclass(frozen=True, slots=True)
class CollectedRun:
    """Everything collected about one cluster of one Databricks run.

    :param submitted_cluster: the ``new_cluster`` that was submitted (after Gradient's merge).
    :param summary: parsed event log (``AppSummary``) or None.
    :param log_status: ``complete``, ``incomplete`` (partial/late) or ``missing``.
    """

    databricks_run_id: int
    state: RunStateFacts
    start_ms: int
    end_ms: int
    submitted_cluster: Mapping[str, Any]
    cluster: ClusterFacts | None = None
    summary: AppSummary | None = None
    log_status: LogStatus = "missing"
    log_reason: str | None = None
    recommendation_id: Any | None = None
    task_keys: tuple[str, ...] = ()
