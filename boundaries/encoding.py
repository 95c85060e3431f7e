"""Which encoding a shapefile's attributes are in (SPEC §4): ``.cpg``, then the DBF language byte, then a guess.

The guess decodes every field name and character value of the DBF as strict UTF-8 and, failing that, as
GB18030 (a superset of GBK). Many shapefiles from Chinese surveys are GBK with no ``.cpg`` and language
byte 0: read naively (GDAL assumes ISO-8859-1) they turn into mojibake, which is why quhua reads the raw
bytes itself before handing the file to GDAL with the encoding it found.
"""

from __future__ import annotations

import codecs
import struct
from pathlib import Path

from boundaries.errors import InputError

__all__ = ["dbf_layout", "decode_text", "detect_dbf_encoding", "normalise_encoding", "raw_dbf_strings",
           "shapefile_part"]

# ESRI language driver ids (DBF byte 29) → Python codec. 0x00 and 0x57 ("ANSI": the writer's code page)
# say nothing usable, so they fall through to the guess.
_LDID = {0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x4D: "gbk", 0x4E: "cp949", 0x4F: "cp950",
         0x57: None, 0x7A: "gbk", 0x78: "cp950", 0x79: "cp949", 0x7B: "cp932", 0xC8: "cp1250",
         0xC9: "cp1251", 0xCA: "cp1254", 0xCB: "cp1253"}
# Code pages as .cpg files and users write them.
_CPG = {"936": "gbk", "cp936": "gbk", "gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "54936": "gb18030",
        "65001": "utf-8", "utf8": "utf-8", "utf-8": "utf-8", "950": "cp950", "big5": "cp950",
        "1252": "cp1252", "88591": "latin-1", "8859_1": "latin-1", "iso-8859-1": "latin-1", "437": "cp437"}


def normalise_encoding(name: str, *, source: str = "--encoding") -> str:
    """A codec name Python knows for what users and ``.cpg`` files write (``936`` → ``gbk``)."""
    key = name.strip().lower().replace(" ", "")
    candidate = _CPG.get(key, key)
    try:
        return codecs.lookup(candidate).name.replace("_", "-")
    except LookupError as err:
        raise InputError(f"{source}: unknown encoding {name!r}; use e.g. UTF-8, GBK or GB18030",
                         rule="dataset.encoding", file=source,
                         message_zh=f"{source}：未知编码 {name!r}；请使用 UTF-8、GBK 或 GB18030 等编码") from err


def shapefile_part(shp: Path, suffix: str) -> Path | None:
    """The file beside ``shp`` with the same stem and ``suffix`` in any case (``.DBF`` as ``.dbf``)."""
    escaped = "".join(f"[{c}]" if c in "*?[" else c for c in shp.stem)
    return next((p for p in shp.parent.glob(f"{escaped}.*") if p.suffix.lower() == suffix), None)


def decode_text(raw: bytes, override: str | None, *, source: str) -> tuple[str, str]:
    """``(text, encoding)`` of a text file: ``override``, else strict UTF-8 (BOM allowed), else GB18030."""
    codecs_to_try = [normalise_encoding(override)] if override else ["utf-8-sig", "gb18030"]
    for codec in codecs_to_try:
        try:
            return raw.decode(codec), "utf-8" if codec == "utf-8-sig" else codec
        except UnicodeDecodeError:
            continue
    raise InputError(f"{source}: the text decodes neither as UTF-8 nor as GB18030/GBK"
                     f"{f' nor as {override}' if override else ''}; say the encoding with --encoding NAME",
                     rule="dataset.encoding", file=source,
                     message_zh=f"{source}：文本无法按 UTF-8、GB18030/GBK{f' 或 {override} ' if override else ' '}"
                                "解码；请用 --encoding 编码名 指定编码")


def dbf_layout(data: bytes) -> tuple[int, int, int]:
    """``(declared records, header length, record length)`` of a .dbf's header (at least 32 bytes)."""
    return struct.unpack_from("<IHH", data, 4)


def raw_dbf_strings(dbf: Path) -> tuple[int, list[bytes]]:
    """The language byte and the raw bytes of every field name and character value of a DBF file."""
    data = dbf.read_bytes()
    if len(data) < 32:
        raise InputError(f"{dbf.name}: the .dbf file is truncated ({len(data)} bytes); export it again",
                         rule="dataset.unreadable", file=dbf.name,
                         message_zh=f"{dbf.name}：.dbf 文件不完整（仅 {len(data)} 字节）；请重新导出")
    n_records, header_len, record_len = dbf_layout(data)
    # never trust the header's sizes beyond the bytes there are (a lying count made this loop for hours)
    n_records = min(n_records, max(len(data) - header_len, 0) // max(record_len, 1))
    fields, offset, pos = [], 1, 32  # each record starts with a deletion flag byte
    names: list[bytes] = []
    while pos + 32 <= min(header_len, len(data)) and data[pos] != 0x0D:
        name = data[pos:pos + 11].split(b"\0", 1)[0]
        kind, length = chr(data[pos + 11]), data[pos + 16]
        names.append(name)
        if kind == "C":
            fields.append((offset, length))
        offset += length
        pos += 32
    values = []
    for i in range(n_records):
        start = header_len + i * record_len
        record = data[start:start + record_len]
        values.extend(record[o:o + n].rstrip(b" \0") for o, n in fields)
    return data[29], [b for b in names + values if b]


def _decodes(chunks: list[bytes], codec: str) -> bool:
    try:
        for chunk in chunks:
            chunk.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def detect_dbf_encoding(shp: Path, override: str | None = None) -> tuple[str, str]:
    """``(encoding, how)`` for a shapefile's attributes; ``how`` says which step of SPEC §4 decided.

    Raises ``dataset.encoding`` when the values decode in no supported encoding.
    """
    if override:
        return normalise_encoding(override), "--encoding"
    cpg = shapefile_part(shp, ".cpg")
    if cpg is not None:
        text = cpg.read_bytes().decode("ascii", "replace").strip()
        if text:
            return normalise_encoding(text, source=cpg.name), ".cpg"
    dbf = shapefile_part(shp, ".dbf")
    if dbf is None:
        return "utf-8", "no attributes"
    ldid, chunks = raw_dbf_strings(dbf)
    if _LDID.get(ldid):
        return _LDID[ldid], f"DBF language byte 0x{ldid:02X}"
    if all(c.isascii() for c in chunks) or _decodes(chunks, "utf-8"):
        return "utf-8", "strict UTF-8 decodes"
    if _decodes(chunks, "gb18030"):
        return "gb18030", "not UTF-8; GB18030 decodes"
    raise InputError(f"{dbf.name}: the attributes decode neither as UTF-8 nor as GB18030/GBK; "
                     "say the encoding with --encoding NAME or add a .cpg file",
                     rule="dataset.encoding", file=dbf.name,
                     message_zh=f"{dbf.name}：属性既不能按 UTF-8 也不能按 GB18030/GBK 解码；"
                                "请用 --encoding 编码名 指定编码，或附上 .cpg 文件")
