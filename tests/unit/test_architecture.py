"""The house keeps its plan: few modules at the top of the package, small modules and
classes, one module per I/O library, every registry name loadable. The layers and the
absence of import cycles are checked by `lint-imports` (pyproject.toml), run by CI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import activelearn

PACKAGE = Path(activelearn.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 350
MAX_PUBLIC_METHODS = 15


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_the_top_of_the_package_holds_at_most_six_modules() -> None:
    # __init__, errors, kinds, files, failpoints and project
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 6, top


def test_the_state_file_is_named_in_one_place() -> None:
    """Every path of a work directory comes from activelearn.project."""
    naming = [_rel(path) for path in MODULES if '"state.sqlite"' in path.read_text()]
    assert naming == ["activelearn/project.py"]


def module_memos(tree: ast.Module) -> list[str]:
    """Names of module-level mutable dicts, lists or sets that are not CONSTANTS: process
    memos that belong on an object (the Project, a worker's cache) instead."""
    found = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        value = getattr(node, "value", None)
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id in ("dict", "list", "set", "OrderedDict", "defaultdict"))
        found += [t.id for t in targets
                  if mutable and isinstance(t, ast.Name) and not t.id.isupper()
                  and t.id != "__all__"]
    return found


def test_no_module_keeps_state_in_module_level_dicts() -> None:
    memos = {_rel(path): module_memos(ast.parse(path.read_text())) for path in MODULES}
    assert {p: names for p, names in memos.items() if names} == {}


def test_the_memo_finder_finds_memos() -> None:
    tree = ast.parse("_cache: dict[str, int] = {}\nTABLE = {}\n__all__ = []\nx = dict()\n")
    assert module_memos(tree) == ["_cache", "x"]


def test_no_module_is_longer_than_350_lines() -> None:
    lines = {_rel(path): len(path.read_text().splitlines()) for path in MODULES}
    assert {p: n for p, n in lines.items() if n > MAX_LINES} == {}, "split them by concept"


def public_methods(tree: ast.Module) -> dict[str, list[str]]:
    """class name -> its public methods (properties included), for the module's classes."""
    return {node.name: [f.name for f in node.body
                        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and not f.name.startswith("_")]
            for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def test_no_class_has_more_than_15_public_methods() -> None:
    large = {f"{_rel(path)}:{name}": len(methods) for path in MODULES
             for name, methods in public_methods(ast.parse(path.read_text())).items()
             if len(methods) > MAX_PUBLIC_METHODS}
    assert large == {}


def test_the_counter_counts_what_it_should() -> None:
    tree = ast.parse("class A:\n    def a(self): ...\n    def _b(self): ...\n"
                     "    @property\n    def c(self): ...\n")
    assert public_methods(tree) == {"A": ["a", "c"]}


@pytest.mark.parametrize("library, allowed", [
    ("label_studio_sdk", {"activelearn/annotation/label_studio/client.py"}),
    ("rq", {"activelearn/jobs/executor.py", "activelearn/jobs/worker.py"}),
    ("redis", {"activelearn/jobs/executor.py", "activelearn/jobs/worker.py"}),
    ("click", {p for p in map(_rel, MODULES) if p.startswith("activelearn/cli/")}),
    ("sqlite3", {p for p in map(_rel, MODULES) if p.startswith("activelearn/state/")}),
])
def test_each_io_library_is_imported_in_its_own_modules(library: str, allowed: set) -> None:
    importers = set()
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == library or n.startswith(library + ".") for n in names):
                importers.add(_rel(path))
    assert importers and importers <= allowed, sorted(importers - allowed)


def test_every_registered_name_loads() -> None:
    """Lazily registered models and sources resolve to what they name."""
    from activelearn.data.sources import available_sources, get_source
    from activelearn.jobs.kinds import available_kinds, get_kind
    from activelearn.learn.models import available_models, get_model
    from activelearn.strategies import available_strategies, get_strategy

    for available, get in ((available_sources, get_source), (available_models, get_model),
                           (available_kinds, get_kind), (available_strategies, get_strategy)):
        assert available() and all(callable(get(name)) or get(name) for name in available())
