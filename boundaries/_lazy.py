"""Modules imported on first use, so that commands that never touch them do not pay for them.

``quhua --help`` and ``quhua names search`` need neither geopandas nor pandas, but the storage modules they
go through name them at the top: with ``gpd = lazy_module("geopandas")`` the module is found at once
(a missing package still fails at import) and executed when an attribute is first read. The standard
library's :class:`importlib.util.LazyLoader` does the work; this only registers it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """The module ``name``: the loaded one if it is, else a lazy one that loads on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

