# Two commands a fresh clone needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := python3 -m uv

.PHONY: venv test demo ui lint typecheck bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv
	@test -x $(PY) || $(UV) venv -q -p python3.11 $(VENV)
	$(UV) pip install -q -p $(PY) -e ".[test]"
	@# Where PYTHONDONTWRITEBYTECODE is set, Python never caches bytecode and uv installs none, so every process
	@# would compile Airflow, SQLAlchemy, pydantic... from source again (gradient CLI 3x slower): compile them once.
	@if [ -n "$${PYTHONDONTWRITEBYTECODE:-}" ]; then \
		$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null \
			|| echo "warning: some installed files could not be byte-compiled" >&2; \
	fi
	@touch $@

test: venv
	bash scripts/run_tests.sh

demo: venv
	$(PY) -m airflow_provider_gradient.demo

PORT ?= 8080
ui: venv
	$(PY) -m airflow_provider_gradient.demo ui --port $(PORT)

lint: venv
	$(VENV)/bin/ruff check airflow_provider_gradient tests benchmarks example_dags
	$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(VENV)/bin/mypy airflow_provider_gradient

clean:
	rm -rf .demo test-artifacts .pytest_cache
