"""The shape of the package, checked: the layer contract (import-linter, as CI's `lint-imports`),
a docstring on every subpackage saying what it owns and may import, and modules and functions a
reader takes in at once (about 400 and 60 lines; the checks allow a little over)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import couple_lite

PACKAGE = Path(couple_lite.__file__).parent
SUBPACKAGES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if m.ispkg and m.name not in ("data",))
MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 65


def test_the_layer_contract_holds_with_no_cycles():
    pytest.importorskip("importlinter", reason="import-linter comes with the 'dev' extra")
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(PACKAGE.parent / "pyproject.toml"), no_cache=True) == 0


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_layer_says_what_it_owns_and_what_it_may_import(name):
    doc = importlib.util.find_spec(f"couple_lite.{name}").origin
    text = ast.get_docstring(ast.parse(Path(doc).read_text(encoding="utf-8"))) or ""
    assert "Owns" in text and "May import" in text, f"couple_lite.{name}: say what it owns and may import"


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_modules_and_functions_stay_readable():
    long_modules, long_functions = [], []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {n} lines")
    assert not long_modules and not long_functions, long_modules + long_functions


def test_no_message_tells_an_installed_user_to_run_a_checkout_script():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in _sources()
        if "python cli.py" in p.read_text(encoding="utf-8") and p.name != "__main__.py"
    ]
    assert not offenders, f"write `couple-lite ...` instead of `python cli.py ...` in {offenders}"
