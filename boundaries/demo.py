"""``quhua demo``: load the bundled national demo (``data/demo``, see data/README.md) province by province."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from boundaries.errors import InputError
from boundaries.pipeline import ingest_paths

__all__ = ["demo_dir", "load_demo"]


def demo_dir() -> Path:
    """Where the demo lies: ``$QUHUA_DEMO_DIR``, else ``data/demo`` of the source checkout."""
    import os

    return Path(os.environ.get("QUHUA_DEMO_DIR") or Path(__file__).resolve().parent.parent / "data" / "demo")


def load_demo(db: str, *, user: str = "demo") -> Iterator[str]:
    """Ingest every province's demo submission; yields one line of summary per province."""
    from tqdm import tqdm

    root = demo_dir()
    manifest = root / "manifest.json"
    if not manifest.exists():
        raise InputError(f"the demo data is missing ({manifest}); build it with scripts/build_demo.py",
                         message_zh=f"缺少演示数据（{manifest}）；请用 scripts/build_demo.py 生成")
    entries = json.loads(manifest.read_text(encoding="utf-8"))["submissions"]
    for entry in tqdm(entries, desc="demo", unit="province"):
        paths = [root / p for p in entry["paths"]]
        result = ingest_paths(paths, entry["province"], db=db, user=user, progress=False)
        status = f"submission {result.submission_id}" if result.submission_id else "NOT STORED"
        summary = result.report["summary"]
        yield (f"{entry['province']} {entry['name']}: {summary['lines']} lines, {summary['markers']} markers, "
               f"{summary['errors']} errors, {summary['warnings']} warnings → {status}")
