"""Hostile input files, built in code, shared by the CLI and web tests of issue 12.

Each is a file an attacker could upload: a GDAL VRT (XML) or GDALG pipeline disguised under the name of
a type quhua accepts, naming a file or URL GDAL should never read for a submission.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

#: what a leak would show: the first field of /etc/passwd's first line, or of the server's environment
LEAK_MARKERS = ("root:x:", "PATH=", "QUHUA_SECRET_KEY")


def vrt(source: str, layer: str | None = None) -> bytes:
    """A VRT whose one point layer reads ``source`` (any GDAL connection string), as markers."""
    src_layer = f"<SrcLayer>{layer}</SrcLayer>" if layer else ""
    return (f"""<OGRVRTDataSource>
  <OGRVRTLayer name="markers">
    <SrcDataSource>{source}</SrcDataSource>{src_layer}
    <GeometryType>wkbPoint</GeometryType>
    <LayerSRS>EPSG:4490</LayerSRS>
    <GeometryField encoding="PointFromColumns" x="field_1" y="field_1"/>
  </OGRVRTLayer>
</OGRVRTDataSource>
""").encode()


def gdalg(source: str) -> bytes:
    """A GDALG pipeline (JSON, read by content: GDAL runs it on open) that reads ``source``."""
    return ('{"type": "gdal_streamed_alg", "command_line": "gdal vector pipeline ! read '
            f'{source} ! write --output-format stream streamed_dataset"}}').encode()


def targets(db: str, url: str) -> dict[str, str]:
    """Each thing an attacker wants read → the GDAL connection string that names it."""
    database = db if "://" not in db else f"PG:{db}"
    return {"passwd": "CSV:/etc/passwd", "database": database, "environ": "CSV:/proc/self/environ",
            "vsicurl": f"/vsicurl/{url}/markers.csv"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def recording_http_server(folder: Path):
    """A loopback HTTP server in its own process (GDAL holds the GIL while it fetches); yields
    ``(url, hits)`` where ``hits()`` lists the requests it received."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "markers.csv").write_text("field_1,field_2\n114.0,leak\n")
    port = _free_port()
    log = folder / "http.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                    "--directory", str(folder)], stderr=stderr, stdout=subprocess.DEVNULL,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield url, lambda: [line for line in log.read_text().splitlines() if '"GET' in line or '"HEAD' in line]
    finally:
        process.terminate()
        process.wait(timeout=10)
