"""``gradient simulator serve`` as a process: starts, answers with auth, stops cleanly on SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path


def test_serve_starts_answers_and_stops(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("gradient"))
    proc = subprocess.Popen([exe, "simulator", "serve", "--port", "0", "--data", str(tmp_path), "--token", "cli-token",
                             "--time-scale", "100", "--faults", '{"latency_ms": 1}'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "emulator listening on http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.stderr else "")
        url = line.split("listening on ", 1)[1].split()[0]
        health = json.loads(urllib.request.urlopen(url + "/_emulator/health", timeout=10).read())
        assert health["status"] == "ok" and health["time_scale"] == 100
        req = urllib.request.Request(url + "/_emulator/faults", headers={"Authorization": "Bearer cli-token"})
        assert json.loads(urllib.request.urlopen(req, timeout=10).read())["latency_ms"] == 1
        try:
            urllib.request.urlopen(url + "/api/2.1/clusters/spark-versions", timeout=10)
            raise AssertionError("unauthenticated call succeeded")
        except urllib.error.HTTPError as err:
            assert err.code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert (tmp_path / "emulator-state.json").is_file()


def test_serve_rejects_bad_options(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("gradient"))
    out = subprocess.run([exe, "simulator", "serve", "--data", str(tmp_path), "--faults", '{"nope": 1}'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "error: FaultError" in out.stderr
