"""airflow-provider-gradient: continuously optimise the Databricks job clusters Airflow submits."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: Every option of the ``[gradient]`` section of airflow.cfg (also env ``AIRFLOW__GRADIENT__<OPTION>``).
CONFIG_OPTIONS: dict[str, dict[str, Any]] = {
    "store_url": {
        "description": "SQLAlchemy URL of the Gradient store used in local mode. Empty means "
        "sqlite:///$AIRFLOW_HOME/gradient.db. Use a PostgreSQL URL (postgresql+psycopg://...) in production.",
        "type": "string",
        "default": "",
        "example": "postgresql+psycopg://gradient@db:5432/gradient",
    },
    "price_catalog": {
        "description": "Path to a JSON price catalog that overrides/extends the shipped one "
        "(negotiated discounts, other regions).",
        "type": "string",
        "default": "",
        "example": "/opt/airflow/gradient_prices.json",
    },
    "onboard": {
        "description": "No-code onboarding through the cluster policy: none, tagged (DAGs tagged 'gradient') or all.",
        "type": "string",
        "default": "none",
        "example": "tagged",
    },
    "default_sla_minutes": {
        "description": "SLA (minutes) given to new projects when the task does not set one. Empty = none.",
        "type": "string",
        "default": "",
        "example": "60",
    },
    "default_auto_apply": {
        "description": "Whether new projects apply recommendations automatically when the task does not say "
        "(the no-code cluster policy, a pre_execute hook without auto_apply=, the CLI and the REST API). Off by "
        "default: recommendations are shown and applied at the next run only after someone clicks Apply "
        "(co-pilot mode). Turning it on lets Gradient change production clusters without review. The operator's "
        "gradient_auto_apply= and the hook's auto_apply= always win.",
        "type": "boolean",
        "default": "False",
        "example": "True",
    },
    "cluster_log_url": {
        "description": "Where clusters deliver logs when the task sets none; {project_id} is replaced.",
        "type": "string",
        "default": "dbfs:/cluster-logs/gradient/{project_id}",
        "example": "s3://my-bucket/cluster-logs/{project_id}",
    },
    "pre_execute_timeout_seconds": {
        "description": "Time budget of the pre_execute step; past it the task runs on its original cluster.",
        "type": "float",
        "default": "2.0",
        "example": "1.5",
    },
    "learning_runs": {
        "description": "Number of learning runs (K) before a project switches to optimising.",
        "type": "integer",
        "default": "4",
        "example": "3",
    },
    "log_collection_timeout_seconds": {
        "description": "How long collection waits for the event log to be delivered before the run is "
        "recorded as log_incomplete.",
        "type": "float",
        "default": "300",
        "example": "600",
    },
    "cloud": {
        "description": "Default cloud of new projects (aws or azure) when the gradient connection sets none.",
        "type": "string",
        "default": "aws",
        "example": "azure",
    },
    "region": {
        "description": "Region of the Databricks workspace (us-west-2, eastus ...), used to price runs whose "
        "cluster reports none (no availability zone, no event log) and as the region of new projects. Empty: "
        "taken from each run's cluster report; a run whose region is not known anywhere is recorded unpriced "
        "(never priced at another region's prices).",
        "type": "string",
        "default": "",
        "example": "eastus",
    },
    "plan_type": {
        "description": "Default Databricks plan (Standard, Premium, Enterprise) of new projects.",
        "type": "string",
        "default": "Premium",
        "example": "Enterprise",
    },
    "aws_conn_id": {
        "description": "AWS connection whose credentials read the EC2 instances / EBS volumes of each run's "
        "cluster (exact node lifetimes, storage cost, spot reclaims) and S3 log deliveries. Used when the "
        "connection is defined; a task's gradient_aws_conn_id wins.",
        "type": "string",
        "default": "aws_default",
        "example": "aws_prod",
    },
    "azure_conn_id": {
        "description": "Azure connection (cloud = azure) whose credentials read the VMs and disks of each "
        "run's cluster: login = client id, password = client secret, extra tenantId, subscriptionId and "
        "resource_group (the workspace's managed resource group); without a secret, DefaultAzureCredential. "
        "Used when the connection is defined.",
        "type": "string",
        "default": "azure_default",
        "example": "azure_databricks",
    },
    "pending_dir": {
        "description": "Folder on the worker where runs that could not be recorded (optimiser unavailable) "
        "are queued; they are recorded at the DAG's next recorded run, by GradientEventLogSensor or with "
        "`gradient runs sync`. Empty means $AIRFLOW_HOME/gradient/pending.",
        "type": "string",
        "default": "",
        "example": "/opt/airflow/gradient-pending",
    },
    "alert_notifiers": {
        "description": "Comma-separated dotted paths to Airflow notifiers called when a recorded run misses its "
        "SLA, runs out of memory, or leaves a recommendation waiting for Apply: BaseNotifier instances built "
        "in a module of yours (e.g. SlackNotifier(slack_conn_id='slack', text='{{ gradient_alert.message }}')) "
        "or callables taking the context. Empty = no notifications (metrics and task-log lines only).",
        "type": "string",
        "default": "",
        "example": "my_company.alerts.gradient_slack",
    },
    "alert_on": {
        "description": "Which alerts to send: any of sla_miss, oom, recommendation_waiting (comma-separated).",
        "type": "string",
        "default": "sla_miss,oom,recommendation_waiting",
        "example": "oom,sla_miss",
    },
    "dormant_days": {
        "description": "A project with no run in this many days is flagged dormant.",
        "type": "integer",
        "default": "14",
        "example": "30",
    },
    "projects_without_dag": {
        "description": "Who may see and change projects that belong to no DAG, and workspaces (their plan "
        "type prices every project): 'admin' (users the auth manager lets delete every DAG and change "
        "connections and variables) or 'all_dags' (users with the same right on every DAG). Projects with "
        "a DAG always follow the user's permission on that DAG (docs/security.md).",
        "type": "string",
        "default": "admin",
        "example": "all_dags",
    },
    "discover_conn_ids": {
        "description": "Comma-separated Databricks connection ids that every user of the Gradient pages may "
        "scan with Discover; other connections need read permission on the connection.",
        "type": "string",
        "default": "",
        "example": "databricks_default,databricks_prod",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-gradient",
        "name": "Gradient",
        "description": "Continuously optimises the Databricks job clusters Airflow submits: learns how "
        "runtime and cost respond to cluster shape and applies the cheapest cluster meeting the SLA.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Gradient",
                "external-doc-url": "https://github.com/airflow-provider-gradient/airflow-provider-gradient",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Gradient", "python-modules": ["airflow_provider_gradient.hooks.gradient"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_gradient.hooks.gradient.GradientHook",
                "connection-type": "gradient",
                "hook-name": "Gradient",
                "conn-fields": {
                    "mode": {
                        "label": "Mode",
                        "description": "local: in-process store (default without a host); http: the REST API at host.",
                        "schema": {"type": ["string", "null"], "enum": ["local", "http", None]},
                    },
                    "store_url": {
                        "label": "Store URL (local mode)",
                        "description": "Overrides [gradient] store_url for this connection.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {"label": "Timeout (s, http mode)", "schema": {"type": ["number", "null"], "default": 10}},
                    "retries": {"label": "Retries (http mode)", "schema": {"type": ["integer", "null"], "default": 3}},
                    "verify": {"label": "Verify TLS", "schema": {"type": ["boolean", "null"], "default": True}},
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Airflow API base URL (http mode; empty = local mode)",
                        "login": "Username (optional: to obtain a token from /auth/token)",
                        "password": "API token (or the password of the username)",
                    },
                    "placeholders": {"host": "http://airflow-api-server:8080", "password": "JWT bearer token"},
                },
            }
        ],
        "config": {
            "gradient": {
                "description": "Settings of the Gradient provider (cluster optimisation for Databricks).",
                "options": {k: {**v, "version_added": "0.1.0"} for k, v in CONFIG_OPTIONS.items()},
            }
        },
    }
