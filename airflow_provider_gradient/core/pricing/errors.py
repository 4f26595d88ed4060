"""Typed errors of the pricing layer (one base class, readable one-line messages)."""

from __future__ import annotations

from collections.abc import Iterable


class PricingError(ValueError):
    """Base class of every pricing / cost-model error."""


def _known(values: Iterable[str], limit: int = 8) -> str:
    items = sorted(values)
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


class UnknownNodeTypeError(PricingError):
    """A node type (instance / VM type) that the catalog does not know."""

    def __init__(self, cloud: str, name: str, region: str | None = None) -> None:
        self.cloud = cloud
        self.name = name
        self.region = region
        where = f"{cloud} region {region!r}" if region else cloud
        super().__init__(
            f"unknown node type {name!r} on {where}: not in the price catalog "
            "(add it with [gradient] price_catalog)"
        )


class UnknownCloudError(PricingError):
    """A cloud name the catalog has no prices for."""

    def __init__(self, cloud: str, known: Iterable[str]) -> None:
        self.cloud = cloud
        super().__init__(f"unknown cloud {cloud!r} (known: {_known(known)})")


class UnknownRegionError(PricingError):
    """A region the catalog has no prices for on that cloud."""

    def __init__(self, cloud: str, region: str, known: Iterable[str]) -> None:
        self.cloud = cloud
        self.region = region
        super().__init__(f"unknown {cloud} region {region!r} (known: {_known(known)})")


class UnknownPlanError(PricingError):
    """A Databricks plan (Standard/Premium/Enterprise) or compute type without a DBU rate."""

    def __init__(self, cloud: str, what: str, value: str, known: Iterable[str]) -> None:
        self.cloud = cloud
        self.value = value
        super().__init__(f"unknown Databricks {what} {value!r} on {cloud} (known: {_known(known)})")


class UnknownVolumeTypeError(PricingError):
    """A disk / volume type without a $/GB-month price."""

    def __init__(self, cloud: str, region: str, volume_type: str, known: Iterable[str]) -> None:
        self.volume_type = volume_type
        super().__init__(
            f"unknown volume type {volume_type!r} in {cloud} region {region!r} (known: {_known(known)})"
        )


class CatalogFormatError(PricingError):
    """A price catalog file that cannot be read or does not follow the schema."""
