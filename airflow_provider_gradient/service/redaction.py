"""Which fields of the service's value objects may carry a secret, redacted with the one rule (``core/redact.py``).

The same function runs on both sides of the wire: the service applies it before anything is stored, and the http
client (:mod:`~airflow_provider_gradient.hooks.http_client`) before a request body leaves the worker, so a secret in
a task's cluster spec (``spark_conf``, ``spark_env_vars``, ``custom_tags``, init scripts ...) or in a run's failure
text never travels to a remote Gradient service nor lands in its logs. What is sent is what the service would have
stored anyway (the rule is idempotent), so the optimiser sees the same data in both modes. Values are copied, never
changed in place: the payload submitted to Databricks keeps the user's real values.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from airflow_provider_gradient.core.redact import redact_text, redact_tree
from airflow_provider_gradient.service.schemas import (
    ProjectIn,
    ProjectSettings,
    ProjectSettingsIn,
    RecommendationIn,
    RunIn,
    WorkspaceIn,
)

M = TypeVar("M", bound=BaseModel)

#: value object -> (fields holding JSON trees: a cluster spec, metrics; fields holding free text: messages, URLs).
#: Subclasses (``Workspace``, ``Recommendation``) inherit their base's entry; nested value objects (a project's
#: settings and workspace, the project of an ``ApplyChoiceIn``) are redacted by their own entry.
SECRET_FIELDS: dict[type[BaseModel], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ProjectIn: (("baseline_cluster",), ()),
    ProjectSettings: ((), ("cluster_log_url",)),
    ProjectSettingsIn: ((), ("cluster_log_url",)),
    WorkspaceIn: ((), ("host",)),
    RunIn: (("cluster_config", "metrics"), ("failure_message", "log_reason")),
    RecommendationIn: (("cluster",), ("reason",)),
}


def _fields_of(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    for base in cls.__mro__:
        if base in SECRET_FIELDS:
            return SECRET_FIELDS[base]
    return (), ()


def redacted(model: M) -> M:
    """A copy of the value object ``model`` with every secret of its (and its nested objects') secret-bearing
    fields replaced by ``*********(redacted)``; ``model`` itself when there is nothing to redact.

    Fields without a secret keep their value (and a field not given stays unset, so
    ``model_dump(exclude_unset=True)`` sends the same keys).

    :param model: a value object of :mod:`~airflow_provider_gradient.service.schemas`.
    """
    trees, texts = _fields_of(type(model))
    update: dict[str, object] = {}
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if value is None:
            continue
        if name in trees:
            new: object = redact_tree(value)
        elif name in texts and isinstance(value, str):
            new = redact_text(value)
        elif isinstance(value, BaseModel):
            new = redacted(value)
        else:
            continue
        if new != value:
            update[name] = new
    return model.model_copy(update=update) if update else model
