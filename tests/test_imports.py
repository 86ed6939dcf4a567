"""The packages' import graph (module-level and function-level imports): no cycles, and the
layers only import downwards (primitives <- tasks <- search <- discover)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_cycles", ROOT / ".ci" / "import_cycles.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def test_no_import_cycles():
    assert checker.cycles(ROOT) == []


def test_layers_import_downwards_only():
    assert checker.upward(ROOT) == []


def test_the_checker_sees_function_level_imports(tmp_path):
    for package in checker.PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "discover" / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "discover" / "b.py").write_text("from .a import f\n")
    (tmp_path / "search" / "c.py").write_text("def g():\n    from discover.a import f\n")
    assert checker.cycles(tmp_path) == [["discover.a", "discover.b"]]
    assert checker.upward(tmp_path) == [("search.c", "discover.a")]
