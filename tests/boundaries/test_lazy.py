"""The start-up helpers of ``quhua check``: the background loading of compiled libraries and the heap's pad."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_preloading_loads_the_libraries_without_importing_a_module():
    out = _run("import sys; from boundaries._lazy import preload_extensions\n"
               "preload_extensions().join()\n"
               "maps = open('/proc/self/maps').read()\n"
               "print(all(m not in sys.modules for m in ('numpy', 'pyarrow', 'shapely', 'pyproj', 'pyogrio')),"
               " 'pyogrio/_io' in maps and 'pyarrow/lib' in maps)")
    assert out == "True True"


def test_a_missing_package_or_file_is_left_to_the_import():
    out = _run("from boundaries._lazy import preload_extensions\n"
               "preload_extensions((('no_such_package_q', 'lib'), ('numpy', 'no_such_module'))).join()\n"
               "import numpy; print(numpy.arange(3).sum())")
    assert out == "3"


def test_the_heap_pad_is_set_where_the_c_library_is_glibc():
    import os

    out = _run("from boundaries._lazy import pad_heap; print(pad_heap())")
    glibc = "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "")
    assert out == str(glibc)
