"""CPU architecture of a node type (``x86_64`` or ``arm64``), from its name.

Libraries with native code, init scripts and some Databricks runtimes are built for one architecture, so the
optimiser keeps a cluster's architecture unless the project allows ARM. The catalog may state ``arch`` per
node type; otherwise it is read from the cloud's naming convention:

- AWS: Graviton families carry a ``g`` right after the generation digit (``m6g``, ``m6gd``, ``c7gn``, ``r8g``,
  ``x2gd``, ``im4gn``, ``is4gen``, ``g5g``), plus ``a1``;
- Azure: the ``p`` additive feature letter after the vCPU count (``Standard_D4ps_v5``, ``Standard_E8pds_v5``;
  families ``Dpsv5``, ``Epdsv5``);
- GCP: the Ampere/Axion series ``t2a`` and ``c4a``.
"""

from __future__ import annotations

import re

X86_64 = "x86_64"
ARM64 = "arm64"
ARCHITECTURES: tuple[str, ...] = (X86_64, ARM64)

_AWS_ARM_FAMILY = re.compile(r"^(?:a1|[a-z]+\d+g[a-z0-9]*)$")
_AZURE_ARM_NAME = re.compile(r"^standard_[a-z]+\d+(?:-\d+)?([a-z]*)_v\d+", re.IGNORECASE)
_AZURE_ARM_FAMILY = re.compile(r"^[A-Z]+([a-z]*)v\d+$")
_GCP_ARM_SERIES = ("t2a", "c4a")


def cpu_architecture(name: str, family: str = "") -> str:
    """``arm64`` for an ARM node type, else ``x86_64``.

    :param name: node type id (``m6gd.xlarge``, ``Standard_D4ps_v5``, ``t2a-standard-4``).
    :param family: its family when known (``m6gd``, ``Dpsv5``); read from ``name`` otherwise.
    """
    n = str(name).strip()
    if n.lower().startswith("standard_"):
        m = _AZURE_ARM_NAME.match(n)
        return ARM64 if m and "p" in m.group(1) else X86_64
    if "-" in n and "." not in n:  # GCP: <series>-<type>-<vcpus>
        return ARM64 if n.split("-", 1)[0].lower() in _GCP_ARM_SERIES else X86_64
    fam = str(family).strip()
    if fam and fam[:1].isupper():  # an Azure family name (Dpsv5)
        m = _AZURE_ARM_FAMILY.match(fam)
        return ARM64 if m and "p" in m.group(1) else X86_64
    fam = (fam or n.split(".", 1)[0]).lower()
    return ARM64 if _AWS_ARM_FAMILY.match(fam) else X86_64


def normalize_architecture(value: str) -> str:
    """Canonical architecture name (``arm``/``aarch64``/``graviton`` → ``arm64``; ``amd64``/``x86`` → ``x86_64``).

    :raises ValueError: for an unknown name.
    """
    v = str(value).strip().lower().replace("-", "_")
    if v in ("arm", "arm64", "aarch64", "graviton"):
        return ARM64
    if v in ("x86", "x86_64", "amd64", "x64", "intel", "amd"):
        return X86_64
    raise ValueError(f"unknown CPU architecture {value!r} (use 'x86_64' or 'arm64')")
