"""shop's helpers sit below every app (docs/architecture.md, "Apps and layers"): any app may
import them, so none of them may import an app, even inside a function."""

import ast
from pathlib import Path

import pytest
from django.apps import apps

SHOP = Path(__file__).resolve().parent.parent
ROOT = SHOP.parent
HELPERS = [
    "cookies",
    "csrf",
    "forms",
    "held",
    "messages",
    "middleware",
    "money",
    "prepared",
    "replica",
    "resolvers",
    "sql",
    "transactions",
]


def imported(module: str) -> set[str]:
    tree = ast.parse((SHOP / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "shop":
            names.update(f"shop.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, "relative imports: none in shop"
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", HELPERS)
def test_shops_helpers_import_no_app(module):
    """Nor any of shop's wiring, which does import apps (a helper's helper is a helper)."""
    ours = {config.name for config in apps.get_app_configs() if Path(config.path).parent == ROOT}
    below = {f"shop.{helper}" for helper in HELPERS}
    for name in imported(module):
        assert name.split(".")[0] not in ours - {"shop"}, name
        assert name.split(".")[0] != "shop" or name in below, name
