"""Every module path, dotted name and ``from ... import`` of our package named in README.md and docs/*.md exists."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = "airflow_provider_gradient"
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
LAYERS = "core|service|store|hooks|operators|sensors|triggers|plugins|simulator|cli|demo|bench"
TOP_MODULES = "settings|policies|charts"
#: ``airflow_provider_gradient/core/x.py`` or, as the docs often write them, ``core/x.py`` (``core/x.py:Name`` too)
SLASH_PATH = re.compile(
    rf"(?<![\w/.-])((?:{PKG}/)?(?:(?:{LAYERS})(?:/\w+)*(?:\.py|/)|(?:{TOP_MODULES})\.py))(?::(\w+))?"
)
DOTTED = re.compile(rf"(?<![\w.]){PKG}(?:\.\w+)+")
#: ``name.py`` or ``name.py:Name`` in backticks, read in the folder named last before it on the same line
BARE_FILE = re.compile(r"`(\w+\.py)(?::(\w+))?`")
FROM_IMPORT = re.compile(rf"^\s*from ({PKG}(?:\.\w+)*) import \(?([\w, ]+)", re.MULTILINE)


def _module_file(dotted: str) -> Path | None:
    base = REPO.joinpath(*dotted.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def _top_level_names(path: Path) -> frozenset[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
            names |= targets
            if "__all__" in targets and isinstance(node.value, ast.List | ast.Tuple):  # lazy (module __getattr__)
                names |= {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If):  # TYPE_CHECKING / version blocks
            for sub in node.body:
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
    return frozenset(names)


def _exists(dotted: str) -> bool:
    """``pkg.module`` exists, or ``pkg.module.Name`` with ``Name`` defined or imported at top level of the module."""
    parts = dotted.split(".")
    for i in range(len(parts), 1, -1):
        path = _module_file(".".join(parts[:i]))
        if path is not None:
            return i == len(parts) or parts[i] in _top_level_names(path)
    return False


def _refs() -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text()
        for m in SLASH_PATH.finditer(text):
            refs.append((doc.name, "path " + m.group(1)))
            if m.group(2):
                module = m.group(1).removeprefix(f"{PKG}/").removesuffix(".py").replace("/", ".")
                refs.append((doc.name, f"name {PKG}.{module}.{m.group(2)}"))
        refs += [(doc.name, "name " + m.group(0)) for m in DOTTED.finditer(text)]
        for line in text.splitlines():
            paths = list(SLASH_PATH.finditer(line))
            folders = [(m.end(), m.group(1)) for m in paths if m.group(1).endswith("/")]
            for m in BARE_FILE.finditer(line):
                folder = next((f for end, f in reversed(folders) if end <= m.start()), None)
                if folder is None or any(m.start() <= p.start() < m.end() for p in paths):
                    continue
                path = f"{folder.removeprefix(PKG + '/')}{m.group(1)}"
                refs.append((doc.name, "path " + path))
                if m.group(2):
                    module = path.removesuffix(".py").replace("/", ".")
                    refs.append((doc.name, f"name {PKG}.{module}.{m.group(2)}"))
        for m in FROM_IMPORT.finditer(text):
            refs += [(doc.name, f"name {m.group(1)}.{n.strip()}") for n in m.group(2).split(",") if n.strip()]
    return refs


def _missing(ref: str) -> bool:
    kind, _, what = ref.partition(" ")
    if kind == "path":
        path = what if what.startswith(PKG) else f"{PKG}/{what}"
        return not (REPO / path).exists()
    return not _exists(what)


def test_the_docs_name_modules() -> None:
    refs = _refs()
    assert len({r for _, r in refs if r.startswith("path")}) > 10 and len(refs) > 50


@pytest.mark.parametrize("doc", [d.name for d in DOCS])
def test_every_module_path_and_name_in_the_docs_exists(doc: str) -> None:
    missing = sorted({ref for name, ref in _refs() if name == doc and _missing(ref)})
    assert not missing, f"{doc} names what the code does not have: {missing}"
