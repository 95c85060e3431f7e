"""Modules imported on first use, so that commands that never touch them do not pay for them.

``quhua --help`` and ``quhua names search`` need neither geopandas nor pandas, but the storage and model
modules they go through name them at the top: with ``gpd = lazy_module("geopandas")`` the package is found at
once (a missing one still fails at import time) and imported when an attribute of it is first read.

Hand-written rather than :class:`importlib.util.LazyLoader`: Python 3.11's lazy loader is not safe when
two threads touch the module first at the same moment (the rules' background threads, the viewer's
waitress threads), while :func:`importlib.import_module` takes the import lock. After the import the
proxy holds the module's attributes itself, so a lookup costs what it costs on the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType

__all__ = ["lazy_module"]

_LOCK = threading.Lock()


class _LazyModule(ModuleType):
    """Stands for a module until an attribute is read, then imports it and takes on its attributes."""

    def __getattr__(self, attr: str):
        # called only for attributes the proxy does not hold yet, i.e. before the import
        with _LOCK:
            module = importlib.import_module(self.__name__)
            self.__dict__.update(vars(module))
        return getattr(module, attr)

    def __dir__(self):
        return dir(importlib.import_module(self.__name__))


def lazy_module(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it on first attribute access (the module itself if it
    is already imported)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _LazyModule(name)
