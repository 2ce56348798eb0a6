"""The layering a newcomer can rely on: feature handler modules do not import each other."""

from __future__ import annotations

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
#: Shared pieces live here (or in bot/); every feature module may use them.
SHARED = {"handlers.common"}


def imported_modules(source: Path) -> set[str]:
    """Every module a Python file imports, absolute names."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_feature_handler_modules_do_not_import_each_other() -> None:
    offenders = []
    for source in sorted(HANDLERS.glob("*.py")):
        if source.stem in ("__init__", "common"):
            continue
        for name in imported_modules(source):
            module = ".".join(name.split(".")[:2])
            if module.startswith("handlers.") and module not in SHARED:
                offenders.append(f"{source.name} imports {name}")
    assert offenders == []


def test_the_check_sees_a_cross_import(tmp_path: Path) -> None:
    module = tmp_path / "feature.py"
    module.write_text("from handlers.events import show_event\n", encoding="utf-8")
    assert "handlers.events" in imported_modules(module)
