#!/usr/bin/env bash
# Runs the whole suite: starts a throw-away PostgreSQL, makes sure Chromium is there, runs pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
pgdir=$(mktemp -d /tmp/gradient-pg.XXXXXX)
cleanup() { scripts/pg.sh stop "$pgdir"; }
trap cleanup EXIT INT TERM
if ! GRADIENT_TEST_PG_URL=$(scripts/pg.sh start "$pgdir"); then
  echo "could not start PostgreSQL" >&2; exit 1
fi
export GRADIENT_TEST_PG_URL
if ! command -v chromium >/dev/null 2>&1 && [ -z "${GRADIENT_SKIP_BROWSER:-}" ]; then
  echo "installing Debian chromium for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) >&2 \
    || echo "warning: chromium could not be installed" >&2
fi
mkdir -p test-artifacts
# with PYTHONDONTWRITEBYTECODE set, our own modules byte-compiled up front (else every test subprocess compiles them)
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then $PY -m compileall -q airflow_provider_gradient >/dev/null || true; fi
# the import contracts (layers, pure core, dev tools off the runtime path: pyproject.toml [tool.importlinter])
if ! .venv/bin/lint-imports --no-cache; then
  echo "import contracts broken (see above)" >&2; exit 1
fi
$PY -m pytest --durations=15 "$@"
rc=$?
exit $rc
