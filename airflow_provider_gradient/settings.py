"""The deployment settings: one typed object read from the ``[gradient]`` section of Airflow's configuration.

Every option is declared in :data:`airflow_provider_gradient.CONFIG_OPTIONS` (``get_provider_info()["config"]``,
so ``airflow config list --section gradient`` shows it); :class:`GradientSettings` has exactly one field per
declared option and takes its default from the declaration. Precedence is Airflow's: environment variable
``AIRFLOW__GRADIENT__<OPTION>`` > ``[gradient] <option>`` in airflow.cfg > the declared default.

Two readers give the same values:

* inside an Airflow process (``airflow.configuration`` already imported): Airflow's ``conf``;
* anywhere else (the ``gradient`` CLI's local mode, plain scripts): the environment and the ``[gradient]``
  section of ``$AIRFLOW_CONFIG`` (default ``$AIRFLOW_HOME/airflow.cfg``, ``$AIRFLOW_HOME`` default
  ``~/airflow``) read with :mod:`configparser` -- without importing Airflow.

A bad value raises :class:`GradientConfigError` naming the option, its value and where it came from.
"""

from __future__ import annotations

import configparser
import logging
import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from airflow_provider_gradient import CONFIG_OPTIONS

log = logging.getLogger(__name__)

SECTION = "gradient"
ENV_PREFIX = "AIRFLOW__GRADIENT__"
ALERT_KINDS: tuple[str, ...] = ("sla_miss", "oom", "recommendation_waiting")


class GradientConfigError(ValueError):
    """A ``[gradient]`` option has a value that cannot be used.

    :param option: the option name (``learning_runs``).
    :param value: the raw value read.
    :param source: where it was read (``env AIRFLOW__GRADIENT__LEARNING_RUNS``, a cfg path, ``default``).
    """

    def __init__(self, option: str, value: str | None, source: str, problem: str) -> None:
        super().__init__(f"[gradient] {option} = {value!r} ({source}): {problem}")
        self.option = option
        self.value = value
        self.source = source
        self.problem = problem


# ---------------------------------------------------------------------- parsing of raw strings
def _blank_none(value: Any) -> Any:
    """``""`` (unset in airflow.cfg) -> None."""
    return None if isinstance(value, str) and not value.strip() else value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _csv(value: Any) -> Any:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_none)]
Text = Annotated[str, BeforeValidator(_stripped), Field(min_length=1)]
Lower = BeforeValidator(_lower)
Csv = BeforeValidator(_csv)


class GradientSettings(BaseModel):
    """The ``[gradient]`` section, typed (one field per declared option; see ``CONFIG_OPTIONS``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_url: OptionalText
    price_catalog: OptionalText
    onboard: Annotated[Literal["none", "tagged", "all"], Lower]
    default_sla_minutes: Annotated[
        Annotated[float, Field(gt=0, le=60 * 24 * 31)] | None, BeforeValidator(_blank_none)
    ]
    default_auto_apply: bool
    cluster_log_url: Text
    pre_execute_timeout_seconds: Annotated[float, Field(gt=0)]
    learning_runs: Annotated[int, Field(ge=1, le=50)]
    log_collection_timeout_seconds: Annotated[float, Field(ge=0)]
    cloud: Annotated[Literal["aws", "azure"], Lower]
    region: Annotated[OptionalText, Lower]
    plan_type: Text
    aws_conn_id: Text
    azure_conn_id: Text
    pending_dir: OptionalText
    alert_notifiers: Annotated[tuple[str, ...], Csv]
    alert_on: Annotated[tuple[Literal["sla_miss", "oom", "recommendation_waiting"], ...], Csv]
    dormant_days: Annotated[int, Field(ge=1)]
    projects_without_dag: Annotated[Literal["admin", "all_dags"], Lower]
    discover_conn_ids: Annotated[tuple[str, ...], Csv]

    @property
    def airflow_home(self) -> Path:
        """``$AIRFLOW_HOME`` (default ``~/airflow``)."""
        return airflow_home()

    def resolved_store_url(self) -> str:
        """``store_url``, or ``sqlite:///$AIRFLOW_HOME/gradient.db`` when unset."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{self.airflow_home / 'gradient.db'}"

    def resolved_pending_dir(self) -> Path:
        """``pending_dir``, or ``$AIRFLOW_HOME/gradient/pending`` when unset."""
        if self.pending_dir:
            return Path(self.pending_dir).expanduser()
        return self.airflow_home / "gradient" / "pending"


def declared_defaults() -> dict[str, str]:
    """The declared default (a string, as in airflow.cfg) of every option."""
    return {name: str(spec.get("default") or "") for name, spec in CONFIG_OPTIONS.items()}


# ---------------------------------------------------------------------- readers
def airflow_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$AIRFLOW_HOME``, default ``~/airflow`` (Airflow's own rule)."""
    env = os.environ if environ is None else environ
    return Path(env.get("AIRFLOW_HOME") or "~/airflow").expanduser()


def airflow_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$AIRFLOW_CONFIG``, default ``$AIRFLOW_HOME/airflow.cfg`` (Airflow's own rule)."""
    env = os.environ if environ is None else environ
    configured = env.get("AIRFLOW_CONFIG")
    return Path(configured).expanduser() if configured else airflow_home(env) / "airflow.cfg"


RawSettings = dict[str, tuple[str, str]]
"""option -> (raw value, source)."""


def read_raw_local(environ: Mapping[str, str] | None = None, config_path: Path | None = None) -> RawSettings:
    """Raw option values without Airflow: env ``AIRFLOW__GRADIENT__<OPTION>`` > the cfg file > default.

    :param environ: the environment (default ``os.environ``).
    :param config_path: airflow.cfg (default :func:`airflow_config_path`); a missing file is no error.
    """
    env = os.environ if environ is None else environ
    path = config_path or airflow_config_path(env)
    from_file: dict[str, str] = {}
    if path.is_file():
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise GradientConfigError("*", None, str(path), f"airflow.cfg is not readable: {exc}") from None
        if parser.has_section(SECTION):
            from_file = {k.lower(): v for k, v in parser.items(SECTION)}
    raw: RawSettings = {}
    for name, default in declared_defaults().items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            raw[name] = (os.path.expandvars(env[env_name]), f"env {env_name}")
        elif name in from_file:
            raw[name] = (os.path.expandvars(from_file[name]), str(path))
        else:
            raw[name] = (default, "default")
    return raw


def read_raw_airflow() -> RawSettings:
    """Raw option values from Airflow's ``conf`` (same precedence; also ``_CMD``/``_SECRET`` options)."""
    from airflow.configuration import conf

    raw: RawSettings = {}
    for name, default in declared_defaults().items():
        value = conf.get(SECTION, name, fallback=default)
        raw[name] = ("" if value is None else str(value), "airflow configuration")
    return raw


def parse_settings(raw: Mapping[str, tuple[str, str]] | Mapping[str, str]) -> GradientSettings:
    """Validate raw option values (``{option: value}`` or ``{option: (value, source)}``) into settings.

    Options not given take their declared default.

    :raises GradientConfigError: for the first bad option, naming it.
    """
    values: dict[str, tuple[str, str]] = {k: (v, "default") for k, v in declared_defaults().items()}
    for k, v in raw.items():
        values[k] = v if isinstance(v, tuple) else (v, "given")
    unknown = sorted(set(values) - set(CONFIG_OPTIONS))
    if unknown:
        raise GradientConfigError(unknown[0], values[unknown[0]][0], values[unknown[0]][1], "not a declared option")
    try:
        return GradientSettings.model_validate({k: v for k, (v, _) in values.items()})
    except ValidationError as exc:
        first = exc.errors()[0]
        option = str(first["loc"][0]) if first.get("loc") else "?"
        value, source = values.get(option, (None, "?"))
        raise GradientConfigError(option, value, source, first.get("msg", "invalid value")) from None


@lru_cache(maxsize=16)
def _parsed(key: tuple[tuple[str, str, str], ...]) -> GradientSettings:
    settings = parse_settings({name: (value, source) for name, value, source in key})
    if settings.default_auto_apply:
        log.warning(
            "[gradient] default_auto_apply is on: new projects change their task's cluster at the next runs "
            "without review (co-pilot mode, the default, waits for Apply)"
        )
    return settings


def get_settings(*, use_airflow: bool | None = None) -> GradientSettings:
    """The deployment's settings (validated once per distinct configuration, then cached).

    :param use_airflow: read Airflow's ``conf`` (True) or the environment + airflow.cfg directly (False).
        Default: Airflow's ``conf`` when ``airflow.configuration`` is already imported (any Airflow
        process), else the direct reader -- this function never imports Airflow by itself.
    :raises GradientConfigError: an option has a bad value.
    """
    if use_airflow is None:
        use_airflow = "airflow.configuration" in sys.modules
    raw = read_raw_airflow() if use_airflow else read_raw_local()
    return _parsed(tuple(sorted((k, v, s) for k, (v, s) in raw.items())))
