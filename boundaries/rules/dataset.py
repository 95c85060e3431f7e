"""``dataset.*`` rules: the input as a whole. They are found while reading (:mod:`boundaries.readers`)
and registered here so that every rule id of SPEC §5 is listed in the registry."""

from __future__ import annotations

from boundaries.rules import register

_DATASET = [
    ("dataset.crs_missing", "文件没有坐标系，也未指定坐标系（上传页的坐标系选项，或命令行的 --crs）",
     "no CRS in the file and none given"),
    ("dataset.crs_unsupported", "坐标系不在受支持的坐标系之列，或坐标对该坐标系不可能",
     "a CRS outside the supported ones, or coordinates impossible for it"),
    ("dataset.encoding", "属性用任何受支持的编码都无法解码", "attributes that decode in no supported encoding"),
    ("dataset.schema", "缺少必填字段", "a required field missing"),
    ("dataset.unreadable", "GDAL 无法打开的文件，损坏或危险的压缩包",
     "a file GDAL cannot open, a broken or dangerous archive"),
    ("dataset.check_budget", "网页上传的检查超出了服务器为每次检查设定的 CPU 时间、内存或时长上限",
     "a web upload's check exceeded the server's CPU time, memory or duration limit per check"),
]
for _id, _zh, _en in _DATASET:
    register(_id, severity="error", layer="dataset", description=_zh, description_en=_en)
register("dataset.zone_extent", severity="warning", layer="dataset",
         description="坐标超出高斯-克吕格投影带的名义带宽，但位于报送省份及其邻近：说明超出多远及该处的长度变形",
         description_en="coordinates beyond a Gauss-Krüger zone's nominal strip that lie in or next to the "
                        "submitting province: how far beyond, and the scale error there")
