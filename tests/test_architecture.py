"""The architecture of docs/architecture.md holds: rooms reach only down, and no import circles.

import-linter checks pyproject.toml's contracts (layers, acyclic siblings, what ganengine and the
statistics may not import). Its sibling check cannot see a circle between a package's own
__init__ and a module inside it (quiz.jobs and quiz.jobs.gan, say), so every module's imports,
those inside functions too, are also searched for strongly connected groups.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import numpy as np
from django.conf import settings
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

PACKAGES = ("quiz", "ganengine", "webapp")


def import_circles(*packages: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others, from the sys.path."""
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    modules = sorted(graph.modules)
    index = {module: i for i, module in enumerate(modules)}
    edges = [
        (index[importer], index[imported])
        for importer in modules
        for imported in graph.find_modules_directly_imported_by(importer)
    ]
    rows, columns = zip(*edges, strict=True) if edges else ((), ())
    adjacency = csr_matrix((np.ones(len(edges)), (rows, columns)), shape=(len(modules),) * 2)
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for module, label in zip(modules, labels, strict=True):
        groups.setdefault(label, []).append(module)
    return [group for group in groups.values() if len(group) > 1]


def test_the_import_contracts_hold():
    completed = subprocess.run(
        [Path(sys.executable).with_name("lint-imports"), "--no-cache"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_no_module_imports_itself_through_others():
    assert import_circles(*PACKAGES) == []


def test_a_circle_through_a_function_level_import_is_found(tmp_path, monkeypatch):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "door.py").write_text(
        textwrap.dedent(
            """
            def run():
                from planted import work  # imported on first use, still a dependency

                return work.do()
            """
        )
    )
    (package / "work.py").write_text("from planted.door import run\n\ndef do():\n    return 1\n")
    (package / "leaf.py").write_text("from planted import work\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles("planted") == [["planted.door", "planted.work"]]
