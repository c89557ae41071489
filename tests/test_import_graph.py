"""Dependencies point one way (DESIGN.md, "Layout"): lpuplan -> facility -> dimensioning; lpuplan -> benchmarks -> dimensioning.

Every module of the four packages is parsed (``ast``) and every import it can
make is collected: ``import x``, ``from x import y``, relative imports, imports
inside functions or ``TYPE_CHECKING`` blocks, and ``importlib.import_module("x")``
with a literal name. An import of a package above the importer fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dimensioning", "facility", "benchmarks", "lpuplan")
FORBIDDEN: dict[str, frozenset[str]] = {
    "dimensioning": frozenset({"facility", "benchmarks", "lpuplan"}),
    "facility": frozenset({"lpuplan", "benchmarks"}),
    "benchmarks": frozenset({"facility", "lpuplan"}),
    "lpuplan": frozenset(),
}


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, the text of module ``module``."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    out.append((node.lineno, node.args[0].value))
    return out


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    top = module.split(".")[0]
    banned = FORBIDDEN.get(top, frozenset())
    return [f"{module}:{line} imports {name}" for line, name in imported_modules(source, module, is_package)
            if name.split(".")[0] in banned]


def all_modules() -> list[tuple[Path, str, bool]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            out.append((path, ".".join(parts), is_package))
    return out


def test_no_package_imports_one_above_it():
    modules = all_modules()
    assert len(modules) > 40  # the walk found the tree
    found = []
    for path, module, is_package in modules:
        found += upward_imports(path.read_text(encoding="utf-8"), module, is_package)
    assert not found, "upward imports:\n" + "\n".join(found)


def test_the_checker_sees_every_form_of_import():
    src = (
        "import lpuplan.project\n"
        "from lpuplan import cli\n"
        "def f():\n    from benchmarks.protocol import X\n"
        "if TYPE_CHECKING:\n    from lpuplan.project import Project\n"
        "importlib.import_module('lpuplan.output')\n"
        "from . import layout\n"
        "from .. import lpuplan_like\n"
    )
    found = upward_imports(src, "facility.sub.mod")
    assert [f.split(" imports ")[1] for f in found] == [
        "lpuplan.project", "lpuplan", "benchmarks.protocol", "lpuplan.project", "lpuplan.output"]
    assert upward_imports("import facility.plan\nimport benchmarks\n", "lpuplan.plan") == []
    assert upward_imports("from facility import plan\n", "dimensioning.sizing") == [
        "dimensioning.sizing:1 imports facility"]
    assert upward_imports("from .plan import x\n", "facility", is_package=True) == []
