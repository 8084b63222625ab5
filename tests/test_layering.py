"""Dependencies point one way: the spec (model/) imports nothing from the
conformance suite or the backends, so every fact of the spec is in model/."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(("." * node.level) + node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_model_imports_nothing_from_driver_or_conformance():
    bad = []
    for path in sorted((ROOT / "model").rglob("*.py")):
        for name in _imports(path):
            if name.startswith(("balloonspec.driver", "balloonspec.conformance")):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert not bad, bad
