"""The package's architecture, checked on its source: imports point one way (engine <-
data <- analysis <- documents <- rule bodies), no private name is imported across
modules, and no module imports itself back through another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "process_outcome"

# Lower numbers are lower layers; a module may import its own layer and the ones below.
LAYERS = {
    "errors": 0,
    "config": 0,
    "files": 0,
    "provenance": 0,
    "runstate": 0,
    "outputs": 0,
    "mixed": 1,
    "data": 2,
    "analysis": 3,
    "document": 4,
    "manuscript": 5,
    "supplement": 5,
    "steps": 6,
    "__init__": 6,
}


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(PACKAGE).with_suffix("").parts): p
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module relative to the package, imported names) for every import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "process_outcome":
                for alias in node.names:
                    found.append((alias.name, []))
            elif node.module.startswith("process_outcome."):
                found.append(
                    (node.module.removeprefix("process_outcome."), [a.name for a in node.names])
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("process_outcome."):
                    found.append((alias.name.removeprefix("process_outcome."), []))
    return found


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str):
    upward = [
        target
        for target, _ in _imports(MODULES[module])
        if target.split(".")[0] in LAYERS and _layer(target) > _layer(module)
    ]
    assert not upward, f"{module} (layer {_layer(module)}) imports higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_modules(module: str):
    private = [
        f"{target}.{name}"
        for target, names in _imports(MODULES[module])
        for name in names
        if name.startswith("_")
    ]
    assert not private, f"{module} imports private names: {private}"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names in _imports(path):
            candidates = [target, *(f"{target}.{n}" for n in names)]
            graph[module] |= {c for c in candidates if c in MODULES and c != module}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_every_module_has_a_layer():
    assert {m.split(".")[0] for m in MODULES} <= set(LAYERS)
