"""The Gradient Airflow plugin: the FastAPI app at ``/gradient``, a Browse -> Gradient nav entry, a
"Gradient" tab on task instances, and the run-recording listener (no-code onboarding)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_gradient.plugins import listener
from airflow_provider_gradient.plugins.app import LazyApp

URL_PREFIX = "/gradient"


class GradientPlugin(AirflowPlugin):
    """Registered through the ``airflow.plugins`` entry point (``gradient``)."""

    name = "gradient"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Gradient"}]
    external_views = [
        {
            "name": "Gradient",
            "href": f"{URL_PREFIX}/ui/",
            "category": "browse",
            "destination": "nav",
            "url_route": "gradient",
        },
        {
            "name": "Gradient",
            # Airflow fills {MAP_INDEX} for mapped tasks (a plain task may get the literal text: the page
            # ignores a map index that is not a number)
            "href": f"{URL_PREFIX}/ui/ti?dag_id={{DAG_ID}}&run_id={{RUN_ID}}&task_id={{TASK_ID}}&map_index={{MAP_INDEX}}",
            "destination": "task_instance",
            "url_route": "gradient_ti",
        },
    ]
    listeners = [listener]
