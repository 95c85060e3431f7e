"""A shapefile's parts checked against each other before GDAL reads it (SPEC §4, issue 12).

GDAL trusts the .dbf header's record count: a .dbf claiming 207 records where 307 are present is read
as 207 (100 markers lost without a word), one cut in half ends in an error deep inside. So before
anything loops over records, the declared sizes are checked against the files' real sizes, and the
record counts of ``.shp`` (through its index), ``.shx`` and ``.dbf`` must agree. Everything here reads
headers and the index only (numpy over the .shx), so it costs the same for a lying header as for a
true one. Written by hand: pyshp/GDAL read the records by the header's word, which is what is checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from boundaries import safe_open
from boundaries.encoding import dbf_layout, shapefile_part
from boundaries.errors import InputError

__all__ = ["check_shapefile"]


def _refuse(path: Path, message: str, message_zh: str) -> InputError:
    return InputError(f"{path.name}: {message}; export the shapefile again (all its files together)",
                      file=path.name,
                      message_zh=f"{path.name}：{message_zh}；请重新导出该 shapefile（所有文件一并提交）")


def _sidecars(shp: Path) -> tuple[Path, Path]:
    found = []
    for suffix, role, role_zh in ((".shx", "index", "索引文件"), (".dbf", "attribute table", "属性表")):
        part = shapefile_part(shp, suffix)
        if part is None:
            raise InputError(f"{shp.name}: the {role} {shp.stem}{suffix} is missing beside it; a shapefile "
                             f"is several files — send {shp.stem}.shp, .shx, .dbf and .prj together "
                             "(or zip them)", file=shp.name,
                             message_zh=f"{shp.name}：同目录下缺少{role_zh} {shp.stem}{suffix}；shapefile "
                                        f"由多个文件组成，请将 {shp.stem}.shp、.shx、.dbf 和 .prj 一并提交"
                                        "（或打包成 zip）")
        found.append(part)
    return found[0], found[1]


def _main_header(path: Path) -> int:
    """The real size of a .shp or .shx, checked against the length its ESRI header declares."""
    with path.open("rb") as f:
        head = f.read(100)
    declared = int.from_bytes(head[24:28], "big") * 2 if len(head) >= 28 else -1
    actual = path.stat().st_size
    if len(head) < 100 or head[:4] != safe_open.SHAPE_FILE_CODE or declared != actual:
        raise InputError(f"{path.name}: the file is truncated or damaged (header says {declared} bytes, "
                         f"the file has {actual}); copy or export it again", file=path.name,
                         message_zh=f"{path.name}：文件不完整或已损坏（文件头记载 {declared} 字节，实际 "
                                    f"{actual} 字节）；请重新拷贝或导出")
    return actual


def _index_records(shx: Path, shp_size: int) -> int:
    """How many records the .shx indexes, each checked to lie inside the .shp."""
    size = _main_header(shx)
    if (size - 100) % 8:
        raise _refuse(shx, f"the index is {size} bytes, not 100 + 8 per record", f"索引文件为 {size} 字节，"
                      "不是 100 + 每条记录 8 字节")
    index = np.fromfile(shx, dtype=">i4", offset=100).reshape(-1, 2).astype(np.int64) * 2
    outside = (index[:, 0] < 100) | (index[:, 1] < 0) | (index[:, 0] + 8 + index[:, 1] > shp_size)
    if outside.any():
        bad = int(np.argmax(outside))
        raise _refuse(shx, f"record {bad + 1} of the index points outside the .shp ({shp_size} bytes)",
                      f"索引第 {bad + 1} 条记录指向 .shp（{shp_size} 字节）之外")
    return len(index)


def _dbf_records(dbf: Path) -> int:
    """How many records the .dbf holds, checked against the count its header declares."""
    size = dbf.stat().st_size
    with dbf.open("rb") as f:
        head = f.read(32)
    if len(head) < 32:
        raise _refuse(dbf, f"the .dbf file is truncated ({size} bytes)", f".dbf 文件不完整（仅 {size} 字节）")
    declared, header_len, record_len = dbf_layout(head)
    if header_len < 33 or record_len < 1 or header_len > size:
        raise _refuse(dbf, f"the .dbf header is damaged (header {header_len} bytes, records {record_len} bytes, "
                      f"file {size} bytes)", f".dbf 文件头已损坏（文件头 {header_len} 字节，记录长 {record_len} "
                      f"字节，文件 {size} 字节）")
    held, rest = divmod(size - header_len, record_len)
    if rest > 1 or held != declared:  # one byte left over is the optional end-of-file mark 0x1A
        cut = "" if rest <= 1 else f" and ends {rest} bytes into a record (cut off)"
        cut_zh = "" if rest <= 1 else f"，且最后一条记录只有 {rest} 字节（被截断）"
        raise _refuse(dbf, f"the header declares {declared} records but the file holds {held}{cut}",
                      f"文件头记载 {declared} 条记录，文件实际有 {held} 条{cut_zh}")
    return held


def check_shapefile(shp: Path) -> int:
    """Refuse a shapefile whose parts are missing, damaged or disagree; the number of its records."""
    shx, dbf = _sidecars(shp)
    safe_open.sniff(shp)
    shp_size = _main_header(shp)
    indexed, held = _index_records(shx, shp_size), _dbf_records(dbf)
    if indexed != held:
        raise _refuse(dbf, f"{shp.stem}.shp/.shx hold {indexed} features but {dbf.name} holds {held} attribute "
                      "records — the files do not belong together", f"{shp.stem}.shp/.shx 有 {indexed} 个要素，"
                      f"而 {dbf.name} 有 {held} 条属性记录——这些文件不是同一套")
    return held
