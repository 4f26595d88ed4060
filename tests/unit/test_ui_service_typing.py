"""The pages' service helpers are typed (``GradientService`` / ``Project``), not ``Any``: mypy checks every use of
the service in ``plugins/ui/routes.py`` (a typo in a method name is a type error, not a 500 at run time)."""

from __future__ import annotations

import typing

import pytest

from airflow_provider_gradient.plugins.api import deps
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.plugins.ui import data, routes
from airflow_provider_gradient.service import GradientService, Project


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (deps.get_service, {"return": GradientService}),
        (deps.service_of, {"return": GradientService}),
        (routes._project_or_404, {"svc": GradientService, "return": Project}),
        (routes._writable_project, {"return": tuple[GradientService, Project]}),
        (create_app, {"service": GradientService | None}),
        (data.warm_cache, {"svc": GradientService}),
    ],
)
def test_service_helpers_are_typed(fn: typing.Callable[..., object], expected: dict[str, object]) -> None:
    names = {**fn.__globals__, "GradientService": GradientService, "Project": Project}  # TYPE_CHECKING imports
    hints = typing.get_type_hints(fn, globalns=names)
    for name, want in expected.items():
        assert hints[name] == want, f"{fn.__qualname__}.{name}: {hints[name]!r}"
