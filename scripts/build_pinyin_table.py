"""Write placenames/data/pinyin_search.json.gz: what `quhua names search` reads of pypinyin (its readings of
each Han character, and its phrases), computed from the pypinyin installed, so that a search need not
import pypinyin. Run it after pypinyin is upgraded (tests/placenames/test_romanize.py says when).

    .venv/bin/python scripts/build_pinyin_table.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from placenames.romanize import SEARCH_TABLE, search_table


def main() -> None:
    table = search_table()
    text = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    with gzip.GzipFile(SEARCH_TABLE, "wb", mtime=0) as f:  # mtime 0: the same bytes for the same table
        f.write(text.encode("utf-8"))
    print(f"{SEARCH_TABLE}: {len(table['chars']):,} characters, {len(table['phrases']):,} phrases, "
          f"{SEARCH_TABLE.stat().st_size / 1e3:,.0f} kB (pypinyin {table['source'][0]})")


if __name__ == "__main__":
    main()
