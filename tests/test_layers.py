"""Imports point one way between the project's components (a static scan of every import).

``verifier`` is the trust root and imports nothing else of the project;
``client`` (the trader's SDK and CLI) and ``oracle`` (the price service) import
only ``verifier``; ``prover`` imports only ``verifier``; ``exchange`` (the
operator) imports ``prover``, ``verifier`` and the ``oracle`` client; ``demo``
and the ``darkpool`` front door may import everything. Lazy imports inside
functions count too: a cycle hidden in a function body is still a cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("verifier", "prover", "exchange", "client", "oracle", "demo", "darkpool")
ALLOWED: dict[str, set[str]] = {
    "verifier": set(),
    "prover": {"verifier"},
    "client": {"verifier"},
    "oracle": {"verifier"},
    "exchange": {"verifier", "prover", "oracle"},
    "demo": {"verifier", "prover", "exchange", "client", "oracle"},
    "darkpool": {"verifier", "prover", "exchange", "client", "oracle", "demo"},
}


def imported_components(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in COMPONENTS)
    return found


@pytest.mark.parametrize("component", [c for c in COMPONENTS if (ROOT / c).is_dir()])
def test_component_imports_only_what_it_may(component: str) -> None:
    offenders = []
    for path in sorted((ROOT / component).rglob("*.py")):
        bad = imported_components(path) - ALLOWED[component] - {component}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from prover import circuits\n    import exchange.service\n")
    assert imported_components(module) == {"prover", "exchange"}
