"""Configuration checked on load; language and the user's conventions for numbers and dates."""

from __future__ import annotations

import pytest

from webmap import create_app
from webmap.config import WebConfigError, load_config
from webmap.i18n import format_date, format_number


@pytest.mark.parametrize("url", ["https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}",
                                 "https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}"], ids=["amap", "tencent"])
def test_gcj02_basemaps_are_refused(url):
    with pytest.raises(WebConfigError, match="GCJ-02"):
        load_config({"BASEMAP_URL": url, "BASEMAP_ATTRIBUTION": "x"})


@pytest.mark.parametrize("config,match", [({"BASEMAP_URL": "https://tiles.example/t.png"}, "XYZ"),
                                          ({"BASEMAP_URL": "https://t.example/{z}/{x}/{y}.png"}, "ATTRIBUTION"),
                                          ({"MAX_CONTENT_LENGTH": 0}, "positive")])
def test_unusable_settings_are_refused(config, match):
    with pytest.raises(WebConfigError, match=match):
        load_config(config)


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("QUHUA_DB", str(tmp_path / "x.gpkg"))
    monkeypatch.setenv("QUHUA_BASEMAP_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    monkeypatch.setenv("QUHUA_BASEMAP_ATTRIBUTION", "© OpenStreetMap")
    config = load_config({"UPLOAD_DIR": str(tmp_path / "up")})
    assert config["QUHUA_DB"].endswith("x.gpkg") and "openstreetmap" in config["BASEMAP_URL"]
    assert config["SECRET_KEY"] and (tmp_path / "up").is_dir()


def test_create_app_builds_nothing_at_import_time(tmp_path):
    first = create_app({"QUHUA_DB": str(tmp_path / "a.gpkg"), "UPLOAD_DIR": str(tmp_path / "u")})
    second = create_app({"QUHUA_DB": str(tmp_path / "b.gpkg"), "UPLOAD_DIR": str(tmp_path / "u")})
    assert first is not second and first.config["QUHUA_DB"] != second.config["QUHUA_DB"]
    assert first.test_client().get("/").status_code == 200  # an empty database: nothing loaded yet


@pytest.mark.parametrize("lang,expected", [("zh", "2026年3月5日 16:07"), ("en", "05 Mar 2026 16:07")])
def test_dates_in_beijing_time(lang, expected):
    assert format_date("2026-03-05T08:07:00.000Z", lang) == expected


def test_numbers_grouped():
    assert format_number(1234567.891, 1) == "1,234,567.9" and format_number(None) == "–"
    assert format_number(float("nan")) == "–"


def test_language_switch_is_remembered(client):
    client.get("/rules?lang=en")
    assert "QA rules" in client.get("/rules").get_data(as_text=True)
    client.get("/rules?lang=zh")
    assert "质检规则" in client.get("/rules").get_data(as_text=True)
    assert "质检规则" in client.get("/rules?lang=fr").get_data(as_text=True)  # unknown: Chinese
