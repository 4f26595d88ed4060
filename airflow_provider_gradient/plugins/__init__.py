"""The Airflow plugin: FastAPI app mounted at ``/gradient`` (REST API under ``/gradient/api/v1``, pages
under ``/gradient/ui``), nav entry Browse -> Gradient and the task-instance tab "Gradient"."""
