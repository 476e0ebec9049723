"""The shape of the code: the stage packages of docs/architecture.md, one-way imports, no import cycle.

Every module under src/tokmeter is parsed with ``ast``; imports inside functions count (they hide cycles
as well as top-level ones do). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tokmeter"
DOC = ROOT / "docs" / "architecture.md"
TOP_LEVEL_LIMIT = 8


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(tree):
        if _type_checking_only(child):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        found.extend(_imports(child))
    return found


def _known(name: str) -> str | None:
    """The tokmeter module an imported name lives in (a package's name for its __init__)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(name: str) -> set[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            bases = [f"{base}.{alias.name}" for alias in node.names]
        targets |= {found for found in map(_known, bases) if found and found.startswith("tokmeter")}
    return targets - {name}


GRAPH = {name: imported_modules(name) for name in MODULES}


def documented_order() -> list[str]:
    """The one-way order the architecture document states, lowest stage first."""
    line = next(
        line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("Import order")
    )
    return re.findall(r"`([a-z_]+)/`", line)


def stage(name: str) -> str:
    if name == "tokmeter.__main__":
        return "__main__"
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (SRC / parts[1]).is_dir()) else "<top>"


def find_cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    assert "tokmeter.pricing.unpriced" in GRAPH["tokmeter.ingest.pipeline"]  # a relative import
    assert "tokmeter.cli.app" in GRAPH["tokmeter.cli.ingest"]
    assert "tokmeter.rollup.spark_engine" in GRAPH["tokmeter.rollup.tables"]  # imported inside a function


def test_no_import_cycle() -> None:
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_stage_imports_a_higher_stage() -> None:
    order = ["<top>", *documented_order(), "__main__"]
    rank = {name: index for index, name in enumerate(order)}
    upward = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if rank[stage(target)] > rank[stage(source)]
    ]
    assert not upward, "a lower stage imports a higher one:\n" + "\n".join(sorted(upward))


def test_every_stage_package_is_in_the_documented_order() -> None:
    packages = {path.name for path in SRC.iterdir() if (path / "__init__.py").exists()}
    assert packages == set(documented_order())


def test_the_top_level_keeps_only_a_few_modules() -> None:
    top = sorted(path.name for path in SRC.glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT, top


DOC_MAP = DOC.read_text(encoding="utf-8").split("```")[1]  # the map: the first code block


@pytest.mark.parametrize("name", sorted(set(re.findall(r"^ +([a-z_]+)/", DOC_MAP, re.MULTILINE))))
def test_every_package_the_architecture_names_exists(name: str) -> None:
    assert (SRC / name / "__init__.py").exists(), (
        f"docs/architecture.md names {name}/, which src/tokmeter lacks"
    )


def test_every_module_the_map_names_exists() -> None:
    files = {path.name for path in SRC.rglob("*.py")}
    missing = sorted(set(re.findall(r"\b([a-z_]+\.py)\b", DOC_MAP)) - files)
    assert not missing, f"docs/architecture.md names modules src/tokmeter lacks: {missing}"
