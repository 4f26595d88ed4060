"""Issue 15, item 5, end to end: cloud facts need no undeclared setting.

AWS: ``aws_default`` alone (no ``[gradient] aws_conn_id``, no ``gradient_aws_conn_id``) is enough for EC2/EBS
facts. Azure: with ``[gradient] cloud = azure`` and an ``azure_default`` connection, the run's VMs and disks
are read through azure-identity + azure-mgmt-compute; Azure itself is faked at the HTTP level (AAD token
endpoint + ARM ``virtualMachines`` list, built from the Azure emulator's clusters). Every ``[gradient]``
option the code reads is declared.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SUB, RG, TENANT = "00000000-0000-0000-0000-0000000000aa", "databricks-rg-emulated", "tenant-1"

def test_aws_default_is_enough(one_task_dag: Any, emulator: Any, gradient_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No [gradient] aws_conn_id and no task argument: the documented aws_default gives the EC2/EBS facts."""
    from airflow.configuration import conf

    from airflow_provider_gradient.hooks.collectors.cloud import AwsClusterCollector
    from airflow_provider_gradient.hooks.collectors.run import options_for
    from airflow_provider_gradient.settings import get_settings

    if not emulator.aws_endpoint:
        pytest.skip("emulator without moto")
    monkeypatch.delenv("AIRFLOW__GRADIENT__AWS_CONN_ID", raising=False)
    assert not conf.get("gradient", "aws_conn_id", fallback=None) or conf.get("gradient", "aws_conn_id") == "aws_default"
    calls: list[str] = []
    real = AwsClusterCollector.collect

    def spy(self: Any, cluster_id: str, **kw: Any) -> Any:
        calls.append(cluster_id)
        return real(self, cluster_id, **kw)

    monkeypatch.setattr(AwsClusterCollector, "collect", spy)
    dag = one_task_dag("it_aws_default", {"node_type_id": "m5.xlarge", "num_workers": 2, "aws_attributes": {
        "ebs_volume_count": 1, "ebs_volume_size": 200}}, gradient_auto_apply=False)
    dag.test()
    (run,) = gradient_store.list_runs("it_aws_default.etl")
    assert calls == [run.cluster_id]  # EC2 was asked about this run's cluster
    assert run.cost is not None and run.cost.storage_usd > 0
    # without the connection: no cloud facts, and nothing to configure (the task sets no gradient_aws_conn_id)
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    assert getattr(dag.get_task("etl"), "gradient_aws_conn_id", None) is None
    assert options_for(get_settings()).aws_conn_id is None


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _vm_list(emu: Any) -> dict[str, Any]:
    """ARM's virtualMachines list for the managed resource group, as Azure answers it for Databricks VMs."""
    out = []
    for cid, c in list(emu.state.clusters.items()):
        res = emu.state.sim(cid)
        for node in res.nodes:
            name = f"{cid}-{node.role}-{node.index}"
            out.append({
                "name": name, "type": "Microsoft.Compute/virtualMachines", "location": "eastus",
                "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/{name}",
                "tags": {"Vendor": "Databricks", "ClusterId": cid, "ClusterName": c["cluster_name"]},
                "properties": {
                    "hardwareProfile": {"vmSize": node.node_type},
                    "priority": "Spot" if node.market == "spot" else "Regular",
                    "timeCreated": _iso(c["created_ms"] + int(node.start_s * 1000)),
                    "provisioningState": "Succeeded",
                    "storageProfile": {
                        "osDisk": {"name": f"{name}-os", "osType": "Linux", "createOption": "FromImage",
                                   "diskSizeGB": 30, "managedDisk": {"storageAccountType": "Premium_LRS"}},
                        "dataDisks": [{"lun": 0, "name": f"{name}-data0", "createOption": "Empty",
                                       "diskSizeGB": 128, "managedDisk": {"storageAccountType": "Premium_LRS"}}],
                    },
                },
            })
    return {"value": out}


@pytest.fixture
def azure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An Azure workspace emulator, its connection, azure_default and Azure's HTTP endpoints faked."""
    import responses

    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path / "azure-emulator", time_scale=600, cloud="azure") as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_AZURE", emu.airflow_conn_uri)
        monkeypatch.setenv("AIRFLOW_CONN_AZURE_DEFAULT", json.dumps({
            "conn_type": "azure", "login": "client-id-1", "password": "client-secret-1",
            "extra": {"tenantId": TENANT, "subscriptionId": SUB, "resource_group": RG}}))
        monkeypatch.setenv("AIRFLOW__GRADIENT__CLOUD", "azure")
        monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "eastus")
        seen: dict[str, Any] = {"arm": [], "token": []}

        def token(req: Any) -> tuple[int, dict[str, str], str]:
            seen["token"].append(req.url)
            if "openid-configuration" in req.url:
                base = f"https://login.microsoftonline.com/{TENANT}"
                return 200, {}, json.dumps({"token_endpoint": f"{base}/oauth2/v2.0/token",
                                            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                            "issuer": f"{base}/v2.0"})
            return 200, {}, json.dumps({"access_token": "arm-token", "expires_in": 3600, "token_type": "Bearer"})

        def arm(req: Any) -> tuple[int, dict[str, str], str]:
            seen["arm"].append((req.url, req.headers.get("Authorization")))
            return 200, {"Content-Type": "application/json"}, json.dumps(_vm_list(emu))

        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.add_passthru("http://127.0.0.1")
            rsps.add_passthru("http://localhost")
            for method in (responses.GET, responses.POST):
                rsps.add_callback(method, re.compile(r"https://login\.microsoftonline\.com/.*"), callback=token)
            rsps.add_callback(responses.GET, re.compile(
                rf"https://management\.azure\.com/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                r"Microsoft\.Compute/virtualMachines\?.*"), callback=arm)
            yield {"emulator": emu, "seen": seen}


def test_azure_vms_collected_behind_the_same_switch(
    one_task_dag: Any, gradient_store: Any, azure: dict[str, Any]
) -> None:
    dag = one_task_dag("it_azure", {"node_type_id": "Standard_D4s_v5", "num_workers": 3, "azure_attributes": {
        "availability": "ON_DEMAND_AZURE"}}, databricks_conn_id="databricks_azure", gradient_auto_apply=False)
    dag.test()
    (run,) = gradient_store.list_runs("it_azure.etl")
    project = gradient_store.get_project("it_azure.etl")
    assert project.cloud == "azure" and run.outcome == "success"
    # the ARM list was called with the AAD token, for the managed resource group
    assert azure["seen"]["arm"] and all(auth == "Bearer arm-token" for _, auth in azure["seen"]["arm"])
    assert any("/oauth2/v2.0/token" in u for u in azure["seen"]["token"])
    # the run was priced from those VMs: their managed disks give a storage cost (premium SSD)
    assert run.cost is not None and run.cost.storage_usd > 0 and run.cost.cloud_usd > 0
    # 4 VMs x (30 + 128) GB premium SSD at $0.154/GB-month for about the run
    hours = (run.end_ms - run.start_ms) / 3.6e6
    expected = 4 * 158 * 0.154 / 730 * hours
    assert 0.5 * expected < run.cost.storage_usd < 3 * expected, (run.cost.storage_usd, expected)


def test_every_gradient_option_read_is_declared() -> None:
    """Every ``[gradient]`` option the code reads is declared (so ``airflow config list`` shows it)."""
    from airflow_provider_gradient import CONFIG_OPTIONS
    from airflow_provider_gradient.settings import GradientSettings

    package = REPO / "airflow_provider_gradient"
    src = "\n".join(p.read_text() for p in package.rglob("*.py") if p != package / "settings.py")
    # the [gradient] section is read in one place (settings.py), into one field per declared option
    assert not re.findall(r'conf\.get\(\s*"gradient"|gradient_conf\(', src)
    assert set(GradientSettings.model_fields) == set(CONFIG_OPTIONS)
    read = set(re.findall(r'settings(?:\(\))?\.(?:resolved_)?([a-z_]+)', src)) & set(CONFIG_OPTIONS)
    assert {"aws_conn_id", "azure_conn_id", "pending_dir", "cloud"} <= read
    out = subprocess.run([str(REPO / ".venv/bin/airflow"), "config", "list", "--section", "gradient"],
                         capture_output=True, text=True, env={**os.environ, "AIRFLOW__CORE__UNIT_TEST_MODE": "False"},
                         stdin=subprocess.DEVNULL, timeout=120)
    for option in ("aws_conn_id", "azure_conn_id", "pending_dir"):
        assert option in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
