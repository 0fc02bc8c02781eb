"""Modules imported when first used, not when the handler module is imported.

Every function of the app imports `app.py`, which names the code of every route and event
handler; each function runs only its own. A module bound here costs nothing until one of its
attributes is read (in a handler, on a request), so a function's cold start pays for its own
code only. The standard library's LazyLoader does the deferring; it is thread-safe.
"""
import importlib.util
import sys
from types import ModuleType

from .config import eager_handler_imports


def module(name: str) -> ModuleType:
    """The module `name`, loaded on first attribute access (at once if already imported)."""
    if name in sys.modules:
        return sys.modules[name]
    if eager_handler_imports():
        return importlib.import_module(name)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    sys.modules[name] = lazy
    loader.exec_module(lazy)
    parent, _, child = name.rpartition(".")
    if parent:
        # As an import would: `from package import child` finds the same module object.
        setattr(sys.modules[parent], child, lazy)
    return lazy


def function(module_name: str, name: str):
    """A stand-in for the function `name` of `module_name` that imports the module on its
    first call."""
    if eager_handler_imports():
        return getattr(importlib.import_module(module_name), name)

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module_name), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module_name}.{name}, imported on the first call."
    return call
