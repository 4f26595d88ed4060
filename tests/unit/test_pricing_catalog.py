"""The shipped price catalog and user overrides (core/pricing/catalog.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_provider_gradient.core.pricing import (
    CatalogFormatError,
    PriceCatalog,
    UnknownCloudError,
    UnknownNodeTypeError,
    UnknownPlanError,
    UnknownRegionError,
    UnknownVolumeTypeError,
    load_catalog,
    shipped_catalog_document,
)

AWS_FAMILIES = [
    "m5",
    "m5d",
    "m6i",
    "m6id",
    "m6gd",
    "r5",
    "r5d",
    "r6i",
    "r6id",
    "c5",
    "c5d",
    "c6i",
    "i3",
    "i4i",
]
AZURE_FAMILIES = ["Dsv5", "Ddsv5", "Esv5", "Edsv5", "Fsv2", "Lsv3", "DSv2"]


def _write(tmp_path: Path, doc: object, name: str = "prices.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return str(p)


def test_shipped_catalog_is_dated_and_cited() -> None:
    cat = load_catalog()
    assert cat.prices_as_of[:2] == "20" and len(cat.prices_as_of) == 10
    urls = " ".join(s["url"] for s in cat.sources)
    for host in ("aws.amazon.com/ec2/pricing", "azure.microsoft.com", "databricks.com"):
        assert host in urls
    assert cat.clouds == ("aws", "azure")


@pytest.mark.parametrize(
    ("cloud", "regions", "families"),
    [
        ("aws", ["us-east-1", "us-west-2", "eu-west-1"], AWS_FAMILIES),
        ("azure", ["eastus", "westus2", "westeurope"], AZURE_FAMILIES),
    ],
)
def test_every_family_is_priced_in_every_region(cloud: str, regions: list[str], families: list[str]) -> None:
    cat = load_catalog()
    for region in regions:
        nodes = cat.node_types(cloud, region)
        by_family: dict[str, list[str]] = {}
        for n in nodes:
            by_family.setdefault(n.family, []).append(n.name)
            assert n.vcpus >= 4 and n.memory_gb > 0 and n.dbu_per_hour > 0
            assert 0 < n.spot_discount < 1
            assert cat.hourly_usd(cloud, region, n.name) > 0
        for fam in families:
            assert len(by_family.get(fam, [])) >= 3, (region, fam)
        assert cat.storage_usd_per_gb_month(cloud, region, cat.default_volume_type(cloud)) > 0


def test_well_known_list_prices() -> None:
    cat = load_catalog()
    assert cat.hourly_usd("aws", "us-east-1", "m5.xlarge") == pytest.approx(0.192)
    assert cat.node_type("aws", "m5.xlarge").dbu_per_hour == pytest.approx(0.69)
    m5 = cat.node_type("aws", "m5.4xlarge")
    assert (m5.vcpus, m5.memory_gb, m5.local_disk_gb) == (16, 64.0, 0.0)
    assert cat.node_type("aws", "i3.xlarge").local_disk_gb == 950
    assert cat.dbu_rate_usd("aws", "Premium", "jobs") == pytest.approx(0.15)
    assert cat.dbu_rate_usd("aws", "premium", "All-Purpose Compute") == pytest.approx(0.55)
    assert cat.dbu_rate_usd("azure", "PREMIUM", "JOBS_COMPUTE") == pytest.approx(0.30)
    assert cat.storage_usd_per_gb_month("aws", "us-east-1", "gp2") == pytest.approx(0.10)
    assert cat.storage_usd_per_gb_month("aws", "us-east-1", "gp3") == pytest.approx(0.08)
    # size scaling inside a family is linear on AWS
    assert cat.hourly_usd("aws", "eu-west-1", "r5.8xlarge") == pytest.approx(
        8 * cat.hourly_usd("aws", "eu-west-1", "r5.xlarge")
    )
    assert cat.node_type("azure", "standard_ds3_v2").name == "Standard_DS3_v2"  # case-insensitive lookup


def test_unknown_names_give_clear_errors() -> None:
    cat = load_catalog()
    with pytest.raises(UnknownNodeTypeError, match="'m5.huge'") as ei:
        cat.node_type("aws", "m5.huge")
    assert ei.value.name == "m5.huge" and ei.value.cloud == "aws"
    with pytest.raises(UnknownNodeTypeError, match="m5.xlarge"):  # an AWS type asked on Azure
        cat.hourly_usd("azure", "eastus", "m5.xlarge")
    with pytest.raises(UnknownRegionError, match="'ap-south-9'.*us-east-1"):
        cat.hourly_usd("aws", "ap-south-9", "m5.xlarge")
    with pytest.raises(UnknownPlanError, match="plan 'Gold'.*Premium"):
        cat.dbu_rate_usd("aws", "Gold", "jobs")
    with pytest.raises(UnknownPlanError, match="'Enterprise' on azure"):
        cat.dbu_rate_usd("azure", "Enterprise", "jobs")
    with pytest.raises(UnknownPlanError, match="compute type 'dlt'"):
        cat.dbu_rate_usd("aws", "Premium", "dlt")
    with pytest.raises(UnknownCloudError, match="'gcp'"):
        cat.node_types("gcp")
    with pytest.raises(UnknownVolumeTypeError, match="'io9'"):
        cat.storage_usd_per_gb_month("aws", "us-east-1", "io9")
    # every pricing error is a ValueError, so callers can catch broadly
    assert issubclass(UnknownNodeTypeError, ValueError)


def test_override_merges_over_shipped(tmp_path: Path) -> None:
    override = {
        "prices_as_of": "2025-01-01",
        "clouds": {
            "aws": {
                "adjustments": {"dbu_discount": 0.2},
                "node_types": {
                    "m5.xlarge": {"hourly_usd": {"us-east-1": 0.15}},  # negotiated price, rest inherited
                    "x9.large": {
                        "family": "x9",
                        "vcpus": 2,
                        "memory_gb": 4,
                        "dbu_per_hour": 0.3,
                        "spot_discount": 0.5,
                        "hourly_usd": {"ap-south-1": 0.05},
                    },
                    "i3.8xlarge": None,  # removed
                },
            }
        },
    }
    cat = load_catalog(_write(tmp_path, override))
    assert cat.prices_as_of == "2025-01-01"
    assert cat.hourly_usd("aws", "us-east-1", "m5.xlarge") == pytest.approx(0.15)
    assert cat.hourly_usd("aws", "us-west-2", "m5.xlarge") == pytest.approx(0.192)  # untouched region
    assert cat.node_type("aws", "m5.xlarge").dbu_per_hour == pytest.approx(0.69)
    assert cat.dbu_rate_usd("aws", "Premium", "jobs") == pytest.approx(0.15 * 0.8)
    assert cat.hourly_usd("aws", "ap-south-1", "x9.large") == pytest.approx(0.05)
    assert "ap-south-1" in cat.regions("aws")
    with pytest.raises(UnknownNodeTypeError):
        cat.node_type("aws", "i3.8xlarge")
    # the shipped catalog is not modified by an override
    assert load_catalog().hourly_usd("aws", "us-east-1", "m5.xlarge") == pytest.approx(0.192)
    assert "x9.large" not in shipped_catalog_document()["clouds"]["aws"]["node_types"]


def test_compute_discount_applies_to_every_price(tmp_path: Path) -> None:
    cat = load_catalog(_write(tmp_path, {"clouds": {"azure": {"adjustments": {"compute_discount": 0.25}}}}))
    assert cat.hourly_usd("azure", "eastus", "Standard_DS3_v2") == pytest.approx(0.229 * 0.75)
    assert cat.hourly_usd("aws", "us-east-1", "m5.xlarge") == pytest.approx(0.192)


def test_load_catalog_is_cached_and_sees_edits(tmp_path: Path) -> None:
    assert load_catalog() is load_catalog(None) is load_catalog("")
    path = _write(
        tmp_path, {"clouds": {"aws": {"node_types": {"m5.xlarge": {"hourly_usd": {"us-east-1": 0.1}}}}}}
    )
    first = load_catalog(path)
    assert load_catalog(path) is first
    Path(path).write_text(
        json.dumps({"clouds": {"aws": {"node_types": {"m5.xlarge": {"hourly_usd": {"us-east-1": 0.125}}}}}})
    )
    os.utime(path, ns=(1, 1))
    assert load_catalog(path).hourly_usd("aws", "us-east-1", "m5.xlarge") == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps(
                {
                    "clouds": {
                        "aws": {
                            "node_types": {
                                "z1.big": {"vcpus": 4, "memory_gb": 8, "hourly_usd": {"us-east-1": 1}}
                            }
                        }
                    }
                }
            ),
            r"z1.big has no 'dbu_per_hour'",
        ),
        (
            json.dumps(
                {"clouds": {"aws": {"node_types": {"m5.xlarge": {"hourly_usd": {"us-east-1": "cheap"}}}}}}
            ),
            r"m5.xlarge.hourly_usd.us-east-1 must be a number",
        ),
        (
            json.dumps({"clouds": {"aws": {"node_types": {"m5.xlarge": {"spot_discount": 1.5}}}}}),
            r"spot_discount = 1.5 is out of range",
        ),
    ],
)
def test_bad_override_files(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(CatalogFormatError, match=match):
        load_catalog(str(p))


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogFormatError, match="does not exist"):
        load_catalog(str(tmp_path / "nope.json"))


def test_catalog_from_dict_roundtrip() -> None:
    cat = PriceCatalog(shipped_catalog_document())
    again = PriceCatalog(cat.to_dict())
    assert again.node_types("azure") == cat.node_types("azure")
    with pytest.raises(CatalogFormatError, match="no clouds"):
        PriceCatalog({"clouds": {}})
