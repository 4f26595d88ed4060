"""A recorded run is priced at its project's Databricks plan, the plan its recommendations are estimated at.

The worker prices a run from its node timeline at the ``[gradient] plan_type`` it knows (it does not fetch the
project: the record step is one request in http mode). Where the project's own plan differs, the store re-bases
the run's DBU cost on it when recording: the DBU $ of a run is its DBUs times the plan's $/DBU for its compute
type (x Photon), so the ratio of the two rates moves it exactly; the cloud and storage $ do not depend on the plan.
A plan the catalog has no $/DBU for leaves the run *unpriced*, with why, as a run with an unknown region is.
"""

from __future__ import annotations

from airflow_provider_gradient.core.pricing import PriceCatalog, PricingError, dbu_usd_per_node_dbu
from airflow_provider_gradient.service.schemas import RunCost, RunIn


def on_project_plan(run_in: RunIn, plan: str, catalog: PriceCatalog) -> RunIn:
    """``run_in`` priced at ``plan`` (the project's) when the worker priced it at another plan.

    :param plan: the project's ``plan_type``.
    :param catalog: the price catalog recommendations are estimated with (``[gradient] price_catalog``).
    :return: the same run when it has no pricing record or was priced at ``plan``; else its cost re-based
        (``pricing.plan_type`` = ``plan``, the note says from which plan), or unpriced when the catalog has no
        $/DBU for ``plan``.
    """
    pricing = run_in.pricing
    if pricing is None or pricing.plan_type.strip().lower() == plan.strip().lower():
        return run_in
    note = f"plan {plan} (the project's; the worker priced it at {pricing.plan_type})"
    cost = run_in.cost
    if cost is None or not pricing.priced:
        moved = pricing.model_copy(update={"plan_type": plan})
        return run_in.model_copy(update={"pricing": moved})
    compute = pricing.compute_type if pricing.compute_known else "jobs"
    try:
        before = dbu_usd_per_node_dbu(catalog, pricing.cloud, pricing.plan_type, compute, pricing.photon)
        after = dbu_usd_per_node_dbu(catalog, pricing.cloud, plan, compute, pricing.photon)
    except PricingError as e:
        why = f"not priced: {e} (add it to [gradient] price_catalog, see docs/pricing.md)"
        unpriced = pricing.model_copy(update={"plan_type": plan, "priced": False,
                                              "note": _joined(why, pricing.note)})
        return run_in.model_copy(update={"pricing": unpriced, "cost": None})
    dbu = cost.dbu_usd * after / before if before > 0 else cost.dbu_usd
    delta = dbu - cost.dbu_usd
    rebased = RunCost(
        cloud_usd=cost.cloud_usd,
        dbu_usd=dbu,
        storage_usd=cost.storage_usd,
        total_usd=max(cost.total_usd + delta, 0.0),
        low_usd=None if cost.low_usd is None else max(cost.low_usd + delta, 0.0),
        high_usd=None if cost.high_usd is None else max(cost.high_usd + delta, 0.0),
    )
    moved = pricing.model_copy(update={"plan_type": plan, "note": _joined(pricing.note, note)})
    return run_in.model_copy(update={"pricing": moved, "cost": rebased})


def _joined(*parts: str | None) -> str:
    """Notes joined with ``; ``, clipped to the 500 characters ``RunPricing.note`` holds."""
    return "; ".join(p for p in parts if p)[:500]
