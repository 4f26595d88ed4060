"""get_provider_info: every dotted path it lists imports; entry points and config are declared."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from airflow_provider_gradient import CONFIG_OPTIONS, get_provider_info


def _import_dotted(path: str) -> object:
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, attr = path.rpartition(".")
        return getattr(importlib.import_module(module), attr)


def _dotted_paths(info: dict) -> list[str]:
    paths: list[str] = []
    for hook in info.get("hooks", []):
        paths += hook["python-modules"]
    for op in info.get("operators", []):
        paths += op["python-modules"]
    for sensor in info.get("sensors", []):
        paths += sensor["python-modules"]
    for trig in info.get("triggers", []):
        paths += trig["python-modules"]
    for ct in info.get("connection-types", []):
        paths.append(ct["hook-class-name"])
    for plugin in info.get("plugins", []):
        paths.append(plugin["plugin-class"])
    paths += info.get("extra-links", [])
    paths += [n["class-name"] if isinstance(n, dict) else n for n in info.get("notifications", [])]
    return paths


def test_every_dotted_path_imports() -> None:
    info = get_provider_info()
    paths = _dotted_paths(info)
    assert "airflow_provider_gradient.hooks.gradient.GradientHook" in paths
    for path in paths:
        assert _import_dotted(path) is not None, path


def test_gradient_connection_type() -> None:
    from airflow_provider_gradient.hooks.gradient import GradientHook

    info = get_provider_info()
    (ct,) = [c for c in info["connection-types"] if c["connection-type"] == "gradient"]
    assert _import_dotted(ct["hook-class-name"]) is GradientHook
    assert GradientHook.conn_type == "gradient" and GradientHook.default_conn_name == "gradient_default"
    behaviour = GradientHook.get_ui_field_behaviour()
    assert set(behaviour) >= {"hidden_fields", "relabeling"}
    assert ct["ui-field-behaviour"]["hidden-fields"] == behaviour["hidden_fields"]


def test_config_section_declares_every_option() -> None:
    options = get_provider_info()["config"]["gradient"]["options"]
    assert set(options) == set(CONFIG_OPTIONS)
    for name, opt in options.items():
        assert {"description", "type", "default", "example", "version_added"} <= set(opt), name


def test_entry_points_installed() -> None:
    providers = {ep.name: ep for ep in entry_points(group="apache_airflow_provider")}
    assert any(ep.value == "airflow_provider_gradient:get_provider_info" for ep in providers.values())
    plugins = {ep.name: ep for ep in entry_points(group="airflow.plugins")}
    assert plugins["gradient"].load().__name__ == "GradientPlugin"


def test_plugin_declares_app_and_views() -> None:
    from airflow_provider_gradient.plugins.gradient_plugin import GradientPlugin

    (app,) = GradientPlugin.fastapi_apps
    assert app["url_prefix"] == "/gradient" and callable(app["app"])
    destinations = {v["destination"]: v for v in GradientPlugin.external_views}
    assert destinations["nav"]["category"] == "browse" and destinations["nav"]["name"] == "Gradient"
    assert "{DAG_ID}" in destinations["task_instance"]["href"]
