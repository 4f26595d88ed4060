"""Servers a test starts: a free TCP port on 127.0.0.1 and waiting until the server answers (imported by tests and
the server helpers live_server.py / ui_server.py; conftest modules are not importable by name)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HEALTH = "/api/v2/monitor/health"


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a server started right after binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[Any], *, timeout: float, log: Path | None = None,
                  path: str = HEALTH) -> None:
    """Poll ``url + path`` until it answers 200; fail the test (with the log's tail) when ``proc`` exits first or
    ``timeout`` seconds pass."""
    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{url}: server exited {proc.returncode}:\n{tail()}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url}: server not up after {timeout:.0f} s:\n{tail()}")
        time.sleep(0.5)
