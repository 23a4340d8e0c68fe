"""The layers run one way: accounts ← pipeline ← forecasting ← notifications ← imports ← api
← workspace (an arrow means "may be imported by"; imports writes deals and their snapshots).
A module may import its own layer and the layers below it, never one above: accounts
knows nothing of deals, the pipeline nothing of forecasts, forecasting nothing of
notifications, and nothing imports the workspace (the home page and
the demo data, which combine them all).

Every import counts, at the top of a module or inside a function (a lazy import is still
an arrow), as does ``import_module("…")`` with a literal name. Migrations are left out:
they are history, not code that runs with the app.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["accounts", "pipeline", "forecasting", "notifications", "imports", "api", "workspace"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_names(source: str, module: str, *, is_package: bool = False):
    """``(line, imported module)`` for every import in ``source`` (of module ``module``),
    wherever it is: module level, functions, classes, ``if`` blocks; relative imports are
    resolved against ``module``."""
    tree = ast.parse(source)
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def upward_imports(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that reach a layer above its own, as ``line: name``."""
    own = RANK[module.split(".")[0]]
    found = []
    for line, name in imported_names(source, module, is_package=is_package):
        target = name.split(".")[0]
        if target in RANK and RANK[target] > own:
            found.append(f"{line}: imports {name} ({target} is above {module.split('.')[0]})")
    return found


def _application_files():
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            yield path


def test_layers_import_only_downwards():
    offences = []
    for path in _application_files():
        module = _module_name(path)
        is_package = path.name == "__init__.py"
        for found in upward_imports(path.read_text(), module, is_package=is_package):
            offences.append(f"{path.relative_to(ROOT)}:{found}")
    assert not offences, "Imports against the layers:\n" + "\n".join(offences)


MAX_MODULE_LINES = 600


def test_no_application_module_is_over_the_size_limit():
    """A module a newcomer can hold in their head: past the limit, split it into a package
    (as ``pipeline/services/`` and ``imports/services/`` are)."""
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in [*_application_files(), *sorted((ROOT / "config").rglob("*.py"))]
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"Modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_every_application_package_has_a_layer():
    """A new app must be placed in LAYERS, or its imports would go unchecked."""
    apps = {
        p.parent.name
        for p in ROOT.glob("*/apps.py")
        if (p.parent / "__init__.py").exists() and p.parent.name != "config"
    }
    assert apps == set(LAYERS)


def test_checker_sees_lazy_relative_and_dynamic_imports():
    source = """
import accounts.models
from pipeline import services

def later():
    from forecasting.models import Quota
    return Quota

class Job:
    def run(self):
        import notifications.events

def dynamic():
    return importlib.import_module("workspace.views")

from .models import Opportunity
"""
    found = upward_imports(source, "pipeline.views.board")
    assert [f.split(":")[0] for f in found] == ["6", "11", "14"]
    assert "imports forecasting.models" in found[0]
    assert upward_imports(source, "workspace.views") == []
    assert len(upward_imports(source, "accounts.views")) == 4


def test_checker_resolves_relative_imports():
    source = "from .models import Opportunity\nfrom .. import charts\nfrom . import selectors\n"
    assert [name for _, name in imported_names(source, "forecasting.reports.views")] == [
        "forecasting.reports.models",
        "forecasting",
        "forecasting.reports",
    ]
    package = "from .models import Opportunity\n"
    assert [name for _, name in imported_names(package, "pipeline", is_package=True)] == [
        "pipeline.models"
    ]
