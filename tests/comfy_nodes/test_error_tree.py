"""Every exception class the node pack defines derives from WanI2VError, and no module raises a bare ValueError."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import comfy_nodes
from comfy_nodes.errors import WanI2VError

PACK = Path(comfy_nodes.__file__).resolve().parent


def _modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages([str(PACK)], prefix="comfy_nodes.")]


def test_every_pack_exception_is_a_wani2verror() -> None:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                found.append(cls)
                assert issubclass(cls, WanI2VError), f"{name}.{cls.__name__} is not under WanI2VError"
    assert len(found) >= 7


def test_no_bare_builtin_errors_are_raised() -> None:
    offenders = []
    for path in PACK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                if node.exc.func.id in ("ValueError", "RuntimeError", "Exception", "KeyError"):
                    offenders.append(f"{path.relative_to(PACK)}:{node.lineno} raises {node.exc.func.id}")
    assert not offenders, offenders
