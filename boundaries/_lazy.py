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

__all__ = ["CHECK_EXTENSIONS", "lazy_module", "preload_extensions"]

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


#: The compiled modules ``quhua check`` imports whose loading is long (each brings a large C/C++ library:
#: OpenBLAS, Arrow, GEOS, PROJ, GDAL), by package and path inside it, in the order they are imported.
CHECK_EXTENSIONS = (("numpy", "_core/_multiarray_umath"), ("pyarrow", "lib"), ("pyarrow", "_compute"),
                    ("shapely", "lib"), ("pyproj", "_context"), ("pyproj", "_crs"), ("pyproj", "_transformer"),
                    ("pyogrio", "_ogr"), ("pyogrio", "_io"))


def preload_extensions(extensions=CHECK_EXTENSIONS) -> threading.Thread:
    """Load the shared objects of ``extensions`` in a background thread, so that the dynamic loader's work
    (mapping and relocating Arrow's and GDAL's libraries: 0.05–0.1 s of a check's start) is done while the
    main thread runs Python; the import that follows finds each library loaded and only initialises its
    module. ``ctypes`` loads them (dlopen, outside the GIL) without running any module code; a file that is
    missing or does not load is left to the import, which then behaves as without this. Nothing is imported
    here: the packages are found (:func:`importlib.util.find_spec` of a top-level name imports nothing) and
    their files loaded in the order the imports would load them."""

    def load() -> None:
        import ctypes
        import os
        from importlib.machinery import EXTENSION_SUFFIXES

        for package, name in extensions:
            try:
                spec = importlib.util.find_spec(package)
                folders = spec.submodule_search_locations if spec is not None else None
                if not folders:
                    continue
                for suffix in EXTENSION_SUFFIXES:
                    path = os.path.join(folders[0], name + suffix)
                    if os.path.exists(path):
                        ctypes.CDLL(path)
                        break
            except Exception:  # only a head start: the import itself reports any problem
                continue

    thread = threading.Thread(target=load, name="quhua-preload", daemon=True)
    thread.start()
    return thread
