"""The house style's size and layering rules, checked on the source: every module of fennec, archi2vec and benchmark.

- a module has at most :data:`MAX_MODULE_LINES` lines;
- a function (or method) has at most :data:`MAX_FUNCTION_LINES` lines from its ``def`` to its end, its docstring
  not counted (numpydoc parameter sections are documentation, not logic to read);
- no module imports a private module or name (``_x``) of a package it is not inside: ``benchmark`` reaches
  ``fennec.space`` through ``fennec.space``, not ``fennec.space._records``, and ``benchmark.minizoo`` reaches
  ``benchmark.methods`` through its ``__init__``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fennec", "archi2vec", "benchmark")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Files other engineers are still splitting: being split in branch perf/install. Empty this after merging it.
ALLOWED_LONG_MODULES = frozenset({"fennec/features.py", "fennec/history.py"})


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _name(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def _package_of(path: Path, root: Path) -> str:
    """The dotted package a module belongs to (a package's ``__init__`` belongs to the package itself)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1])


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """Dotted names an import statement reaches: the modules, and for ``from`` imports each imported name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def _private_owner(dotted: str) -> str | None:
    """The package a private component of ``dotted`` is private to (``a.b._c.d`` -> ``a.b``), or None."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _private_imports(path: Path, root: Path = ROOT) -> list[str]:
    package = _package_of(path, root)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for dotted in _imported(node, package):
            owner = _private_owner(dotted)
            if dotted.split(".")[0] in PACKAGES and owner is not None and not (
                    package == owner or package.startswith(owner + ".")):
                found.append(f"{_name(path, root)}:{node.lineno} imports {dotted} (private to {owner})")
    return found


def test_the_checks_see_the_packages():
    names = {_name(p) for p in _modules()}
    assert {"fennec/tasks/_task.py", "archi2vec/_trace.py", "benchmark/minizoo/_tasks.py"} <= names
    assert ALLOWED_LONG_MODULES <= names  # an allowed file that moved or went away: drop it from the list


def test_no_module_is_over_the_limit():
    long = {_name(p): n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines()))
            > MAX_MODULE_LINES}
    assert set(long) - ALLOWED_LONG_MODULES == set(), f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_over_the_limit():
    long = [f"{_name(p)}:{node.lineno} {node.name} ({_function_lines(node)} lines)"
            for p in _modules() for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and _function_lines(node) > MAX_FUNCTION_LINES]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines (docstring not counted): {long}"


def test_no_private_name_is_imported_across_packages():
    found = [line for p in _modules() for line in _private_imports(p)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("source, expected", [
    ("from fennec.space._records import x", ["fennec.space._records", "fennec.space._records.x"]),
    ("from fennec.space import _helper", ["fennec.space._helper"]),
    ("import archi2vec._trace", ["archi2vec._trace"]),
    ("from ..methods._baselines import f", ["benchmark.methods._baselines", "benchmark.methods._baselines.f"]),
    ("from ._tasks import TASKS", []),  # inside its own package
    ("from benchmark.minizoo._store import x", []),  # benchmark.minizoo is the importer's own package
    ("from fennec.space import TransferSpace", []),
])
def test_the_private_import_check_catches_what_it_should(tmp_path, source, expected):
    module = tmp_path / "benchmark" / "minizoo" / "_probe.py"
    module.parent.mkdir(parents=True)
    module.write_text(source + "\n")
    found = _private_imports(module, root=tmp_path)
    assert [line.split(" imports ")[1].split(" (")[0] for line in found] == expected
