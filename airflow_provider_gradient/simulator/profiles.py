"""Job profiles: the documented parameters of one simulated Databricks job (schema in docs/simulator.md).

A profile is a shipped JSON file (``simulator/profiles/<name>.json``), a JSON/YAML path, or a Python callable
given as ``module:function`` returning a :class:`Profile` or a mapping with the same keys.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PROFILE",
    "Profile",
    "ProfileError",
    "StageShape",
    "list_profiles",
    "load_profile",
    "profile_from_mapping",
]

PROFILES_DIR = Path(__file__).with_name("profiles")
#: Profile used when a submitted run names none (see docs/simulator.md "Which profile a run uses").
DEFAULT_PROFILE = "etl_scaling"
DRIFT_KINDS = ("constant", "growth", "seasonal", "random")


class ProfileError(ValueError):
    """A profile is missing, malformed, or has an out-of-range parameter (the message names it)."""


@dataclass(frozen=True, slots=True)
class StageShape:
    """One stage of the job's DAG (used for timing split and event-log shape).

    :param name: Spark stage name (call site).
    :param work_share: share of the parallel work done in this stage (shares are normalised).
    :param tasks: number of tasks, or 0 to use the input partition count.
    :param reads_input: the stage scans the job's input.
    :param shuffle_write_share: share of the job's shuffle bytes written by this stage.
    :param shuffle_read_share: share of the job's shuffle bytes read by this stage (takes the network time).
    :param job: index of the Spark job (action) the stage belongs to.
    """

    name: str
    work_share: float
    tasks: int = 0
    reads_input: bool = False
    shuffle_write_share: float = 0.0
    shuffle_read_share: float = 0.0
    job: int = 0


_DEFAULT_STAGES = (
    StageShape("scan at NativeMethodAccessorImpl.java:0", 0.6, 0, True, 1.0, 0.0, 0),
    StageShape("save at NativeMethodAccessorImpl.java:0", 0.4, 200, False, 0.0, 1.0, 0),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """Parameters of one job model (seconds, GB, per-hour rates). See docs/simulator.md for each term.

    Runtime (noise-free, fixed size, no spot loss) =
    ``serial_s + serial_s_per_gb*G + (work_core_s_per_gb*G/P)*ceil(P/m)*spill/photon + log_coeff_s*ln(m)
    + per_core_s*m + shuffle_s(n)`` with G input GB, m worker cores, P tasks, n workers.
    """

    name: str
    description: str = ""
    # input and drift
    input_gb: float = 100.0
    drift: str = "constant"
    drift_rate_per_week: float = 0.0
    drift_amplitude: float = 0.0
    drift_period_runs: int = 30
    drift_sigma: float = 0.0
    runs_per_week: float = 7.0
    # Ernest-style runtime terms
    serial_s: float = 60.0
    serial_s_per_gb: float = 0.0
    work_core_s_per_gb: float = 600.0
    log_coeff_s: float = 5.0
    per_core_s: float = 0.2
    partition_mb: float | None = 128.0
    partitions: int = 200
    max_partitions: int = 20000
    # shuffle / network
    shuffle_gb_per_gb: float = 0.3
    shuffle_conn_s: float = 1.0
    # memory
    task_memory_gb: float = 0.5
    spill_penalty: float = 0.8
    oom_ratio: float = 3.0
    # photon
    photon_speedup: float = 1.3
    # start-up
    startup_s: float = 240.0
    startup_s_per_worker: float = 1.5
    # autoscaling
    autoscale_lag_s: float = 240.0
    autoscale_down_s: float = 90.0
    # spot
    spot_hazard_per_hour: float = 0.02
    spot_loss_s: float = 60.0
    spot_replace_s: float = 180.0
    spot_fail_losses: int = 0
    # noise
    noise_cv: float = 0.07
    # what the job's owner typically submits (the optimiser's baseline)
    baseline: Mapping[str, Any] = field(
        default_factory=lambda: {"node_type_id": "m5.2xlarge", "num_workers": 8, "spark_version": "15.4.x-scala2.12"}
    )
    stages: tuple[StageShape, ...] = _DEFAULT_STAGES

    def __post_init__(self) -> None:
        if self.drift not in DRIFT_KINDS:
            raise ProfileError(f"profile {self.name!r}: drift must be one of {DRIFT_KINDS}, got {self.drift!r}")
        positive = ("input_gb", "work_core_s_per_gb", "oom_ratio", "photon_speedup", "runs_per_week")
        for key in positive:
            if not float(getattr(self, key)) > 0:
                raise ProfileError(f"profile {self.name!r}: {key} must be > 0")
        non_negative = (
            "serial_s", "serial_s_per_gb", "log_coeff_s", "per_core_s", "shuffle_gb_per_gb", "shuffle_conn_s",
            "task_memory_gb", "spill_penalty", "startup_s", "startup_s_per_worker", "autoscale_lag_s",
            "autoscale_down_s", "spot_hazard_per_hour", "spot_loss_s", "spot_replace_s", "noise_cv",
            "drift_amplitude", "drift_sigma",
        )
        for key in non_negative:
            if float(getattr(self, key)) < 0:
                raise ProfileError(f"profile {self.name!r}: {key} must be >= 0")
        if self.oom_ratio <= 1.0:
            raise ProfileError(f"profile {self.name!r}: oom_ratio must be > 1 (spill before OOM)")
        if self.partition_mb is not None and self.partition_mb <= 0:
            raise ProfileError(f"profile {self.name!r}: partition_mb must be > 0 or null")
        if self.partitions < 1 or self.max_partitions < 1:
            raise ProfileError(f"profile {self.name!r}: partitions and max_partitions must be >= 1")
        if not self.stages:
            raise ProfileError(f"profile {self.name!r}: stages must not be empty")
        if sum(s.work_share for s in self.stages) <= 0:
            raise ProfileError(f"profile {self.name!r}: stage work_share must sum to > 0")

    def input_gb_at(self, run_index: int) -> float:
        """Noise-free input size (GB) of the ``run_index``-th run (0-based) under the profile's drift."""
        import math

        if self.drift == "growth":
            return self.input_gb * (1.0 + self.drift_rate_per_week) ** (run_index / self.runs_per_week)
        if self.drift == "seasonal":
            period = max(1, self.drift_period_runs)
            return self.input_gb * max(0.05, 1.0 + self.drift_amplitude * math.sin(2 * math.pi * run_index / period))
        if self.drift == "random":
            import random

            rnd = random.Random(f"{self.name}/{run_index}")
            sigma = self.drift_sigma
            return self.input_gb * math.exp(rnd.gauss(-sigma * sigma / 2.0, sigma))
        return self.input_gb

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict in the documented schema (round-trips through :func:`profile_from_mapping`)."""
        out = dataclasses.asdict(self)
        out["baseline"] = dict(self.baseline)
        out["stages"] = [dataclasses.asdict(s) for s in self.stages]
        return out


_FIELDS = {f.name for f in dataclasses.fields(Profile)}
_STAGE_FIELDS = {f.name for f in dataclasses.fields(StageShape)}


def profile_from_mapping(data: Mapping[str, Any], *, name: str | None = None) -> Profile:
    """Build a :class:`Profile` from a mapping in the documented schema.

    :param data: the parsed JSON/YAML document.
    :param name: name to use when the document has none.
    :raises ProfileError: unknown keys, bad types or out-of-range values.
    """
    if not isinstance(data, Mapping):
        raise ProfileError(f"profile must be a mapping, got {type(data).__name__}")
    unknown = set(data) - _FIELDS - {"$schema"}
    if unknown:
        raise ProfileError(f"profile {data.get('name', name)!r}: unknown keys {sorted(unknown)}")
    kwargs = {k: v for k, v in data.items() if k in _FIELDS}
    kwargs.setdefault("name", name or "custom")
    if "stages" in kwargs:
        stages = []
        for i, raw in enumerate(kwargs["stages"]):
            if not isinstance(raw, Mapping) or set(raw) - _STAGE_FIELDS:
                raise ProfileError(f"profile {kwargs['name']!r}: stage {i} has unknown keys or is not a mapping")
            stages.append(StageShape(**raw))
        kwargs["stages"] = tuple(stages)
    try:
        return Profile(**kwargs)
    except TypeError as exc:
        raise ProfileError(f"profile {kwargs['name']!r}: {exc}") from exc


def list_profiles() -> tuple[str, ...]:
    """Names of the shipped profiles, sorted."""
    return tuple(sorted(p.stem for p in PROFILES_DIR.glob("*.json")))


def load_profile(ref: str | Profile) -> Profile:
    """Load a profile by shipped name, JSON/YAML path, or ``module:function`` import path.

    :param ref: e.g. ``"etl_scaling"``, ``"/path/job.yaml"``, ``"my_pkg.models:nightly"``.
    :raises ProfileError: when it cannot be found or is invalid.
    """
    if isinstance(ref, Profile):
        return ref
    return _load_cached(str(ref))


@functools.lru_cache(maxsize=256)
def _load_cached(ref: str) -> Profile:
    shipped = PROFILES_DIR / f"{ref}.json"
    if "/" not in ref and shipped.is_file():
        return _load_file(shipped)
    path = Path(ref)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.is_file():
            raise ProfileError(f"profile file not found: {ref}")
        return _load_file(path)
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ProfileError(f"cannot import profile callable {ref!r}: {exc}") from exc
        result = obj() if callable(obj) and not isinstance(obj, Profile) else obj
        if isinstance(result, Profile):
            return result
        return profile_from_mapping(result, name=attr)
    raise ProfileError(f"unknown profile {ref!r}; shipped profiles: {', '.join(list_profiles())}")


def _load_file(path: Path) -> Profile:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error becomes a ProfileError naming the file
        raise ProfileError(f"cannot parse profile {path}: {exc}") from exc
    return profile_from_mapping(data, name=path.stem)
