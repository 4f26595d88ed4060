"""Collectors: what a Databricks run used (Databricks API, cloud APIs, log storage)."""
