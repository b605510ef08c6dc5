"""The house plan, enforced: the import graph of the product has no circle, and the arrows that
docs/architecture.md says must never exist do not.

Every import counts, at the top of a file or inside a function: a circle hidden in a function is
still a circle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "segments", "flows")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    found["webhook"] = ROOT / "webhook.py"
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The product modules `name` imports (a package's __init__ counts as the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from bot.core import db` imports the module bot.core.db, else the names of bot.core
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _edges(source_prefix: str, target_prefixes: tuple[str, ...]) -> list[str]:
    return sorted(f"{source} -> {target}" for source, targets in GRAPH.items()
                  if source == source_prefix or source.startswith(source_prefix + ".")
                  for target in targets if target.startswith(target_prefixes))


def test_the_graph_sees_the_product():
    assert {"bot.runtime", "bot.core.config", "bot.pipeline.worker", "flows.actions", "segments.engine",
            "webhook"} <= set(GRAPH)
    assert "bot.core.config" in GRAPH["bot.runtime"]
    assert "bot.core.db" in GRAPH["bot.core.config"]  # `from bot.core.db import ...`


def test_no_import_circles():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_imports_nothing_else_of_the_product():
    outside = [edge for edge in _edges("bot.core", ("bot", "segments", "flows", "webhook"))
               if not edge.split(" -> ")[1].startswith("bot.core")]
    assert outside == []


@pytest.mark.parametrize("source, forbidden", [
    ("flows", ("bot.pipeline", "bot.whatsapp.graph", "bot.web", "bot.cli")),
    ("segments", ("flows", "bot.web", "bot.cli", "bot.pipeline")),
    ("bot.whatsapp", ("bot.conversation", "bot.pipeline", "bot.web", "bot.cli", "bot.campaigns", "flows",
                      "segments")),
    ("bot.conversation", ("bot.pipeline", "bot.web", "bot.cli", "bot.campaigns")),
    ("bot.campaigns", ("bot.pipeline", "bot.web", "bot.cli")),
    ("bot.pipeline", ("bot.web", "bot.cli")),
    ("bot.web", ("bot.cli", "bot.pipeline.sender", "bot.pipeline.worker", "bot.whatsapp.graph")),
    ("bot.runtime", ("bot.cli", "bot.web")),
    ("bot.shopify", ("bot.web", "bot.cli", "bot.pipeline", "flows")),
])
def test_arrows_that_must_never_exist(source, forbidden):
    assert _edges(source, forbidden) == []


# segments.rules compiles a rule to a SQLAlchemy expression: it builds SQL, and runs none.
@pytest.mark.parametrize("module, may_build_sql", [
    ("bot.whatsapp.window", False), ("bot.campaigns.planner", False), ("bot.campaigns.reorder", False),
    ("bot.campaigns.pricing", False), ("segments.rules", True), ("bot.core.languages", False),
    ("bot.shopify.throttle", False), ("bot.shopify.jsonl", False), ("bot.shopify.records", False),
])
def test_pure_modules_touch_no_database_network_flask_or_clock(module, may_build_sql):
    tree = ast.parse(MODULES[module].read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"requests", "urllib3", "flask", "socket", "time", "psycopg", "threading"}
    if may_build_sql:
        assert not {name for name in imported if name.startswith("sqlalchemy.engine")}
    else:
        assert "sqlalchemy" not in roots
    stateful = ("bot.core.db", "bot.conversation", "bot.pipeline", "bot.web") + (
        () if may_build_sql else ("bot.core.tables",))  # a column type is SQL building too
    assert not {target for target in GRAPH[module] if target.startswith(stateful)}
    source = MODULES[module].read_text()
    assert "datetime.now(" not in source and "utcnow()" not in source


def test_webhook_only_builds_the_app():
    assert GRAPH["webhook"] <= {m for m in MODULES if m.startswith(("bot.web", "bot.core", "bot.runtime"))}
