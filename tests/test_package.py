"""The package's public names: all importable, listed in __all__ and spelled out for readers."""

from __future__ import annotations

import ast
from importlib import import_module
from pathlib import Path

import couple_lite


def test_public_names_resolve_to_their_modules():
    assert couple_lite.__all__ == sorted(couple_lite._EXPORTS)
    for name, module in couple_lite._EXPORTS.items():
        assert getattr(couple_lite, name) is getattr(import_module(f"couple_lite.{module}"), name)


def test_type_checking_imports_match_the_lazy_map():
    """The explicit imports under TYPE_CHECKING name exactly the lazily exported names and modules."""
    tree = ast.parse(Path(couple_lite.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    spelled = {a.name: node.module for node in block.body for a in node.names}
    assert spelled == couple_lite._EXPORTS
