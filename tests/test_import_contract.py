"""The layers' boundary: the core is Qt-free and knows neither the window nor the command line; the
window does not reach into the command line. Every import counts, including those inside functions
(the code imports heavy modules lazily, so a top-level-only check would miss most of them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "workbench"
# package prefix → imports its modules must never make
FORBIDDEN = {
    "workbench.core": ("PySide6", "shiboken6", "pyqtgraph", "workbench.ui", "workbench.cli"),
    "workbench.ui": ("workbench.cli",),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _violations(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module != prefix and not module.startswith(prefix + "."):
            continue
        for line, name in _imports(path):
            if any(name == banned or name.startswith(banned + ".") for banned in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("prefix", sorted(FORBIDDEN))
def test_layers_import_only_downwards(prefix):
    assert _violations(prefix, FORBIDDEN[prefix]) == []


def test_the_contract_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def late():\n    from PySide6.QtCore import QObject\n    import workbench.ui.app\n")
    assert [name for _line, name in _imports(sample)] == ["PySide6.QtCore", "PySide6.QtCore.QObject",
                                                          "workbench.ui.app"]
