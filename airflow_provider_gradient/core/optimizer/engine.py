"""``recommend``: the optimiser's pure entry point (learning phase, then optimizing phase)."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_gradient.core.optimizer.types import (
    ClusterShape,
    Observation,
    OptimizerSettings,
    Recommendation,
    SearchSpace,
)


def recommend(
    space: SearchSpace,
    history: Sequence[Observation],
    settings: OptimizerSettings,
    baseline: ClusterShape,
) -> Recommendation:
    """Recommend the next cluster shape (placeholder: the baseline, until the model lands).

    :param space: allowed node types / workers.
    :param history: past runs of this project, oldest first.
    :param settings: project settings.
    :param baseline: the user's own cluster.
    """
    return Recommendation(
        shape=baseline,
        cluster=baseline.to_databricks(cloud=space.cloud),
        phase="learning",
        learning_iteration=min(len(history) + 1, settings.learning_runs),
        learning_total=settings.learning_runs,
        predicted_runtime_s=None,
        runtime_low_s=None,
        runtime_high_s=None,
        predicted_cost_usd=None,
        cost_low_usd=None,
        cost_high_usd=None,
        reason="baseline run",
    )
