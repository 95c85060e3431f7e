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

__all__ = ["CHECK_EXTENSIONS", "HEAP_TOP_PAD", "lazy_module", "pad_heap", "preload_extensions"]

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


#: glibc's mallopt parameter: how much more than asked the heap grows by, and keeps when its top is freed.
_M_TOP_PAD = -2
#: 256 MB (glibc's default is 128 KB).
HEAP_TOP_PAD = 256 << 20


def pad_heap(pad: int = HEAP_TOP_PAD) -> bool:
    """Have glibc's malloc grow the heap ``pad`` bytes beyond each request and keep that much when memory at
    its top is freed (``mallopt(M_TOP_PAD)``), for a process about to allocate and free hundreds of MB
    (a check reads the layers, builds their geometries and runs the rules). With the default 128 KB the heap
    grows by a system call for almost every large allocation and gives pages back that the next one faults
    in again; reading the county network then spent 0.2–0.3 s in the kernel. Only the address space grows:
    pages are still taken when first written, so the peak memory is the same (measured: 616 → 620 MB, the
    kernel's time 0.5 → 0.35 s on the county check). False (nothing done) where the C library is not glibc.
    Set through ``ctypes``: Python has no interface to the allocator's parameters."""
    import os

    try:
        if "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""):
            return False
        import ctypes

        return bool(ctypes.CDLL(None).mallopt(_M_TOP_PAD, pad))
    except (ValueError, OSError, AttributeError):  # no such confstr name, no libc to load
        return False
