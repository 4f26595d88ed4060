"""Browser-test fixtures: one real ``airflow api-server`` per module (see ui_server.py), Chromium, artifacts.

Browser tests are skipped (with the reason) only when /usr/bin/chromium is missing and CI is not set;
under CI=true they must run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_server import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, AirflowServer, chromium_or_skip, start_server


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    """One api-server for all browser tests of a module."""
    chromium_or_skip()
    yield from start_server(tmp_path_factory.mktemp("airflow_ui"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
