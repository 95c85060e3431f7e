"""A fatal error of the core (:class:`~boundaries.errors.QuhuaError`) that reaches the viewer is shown in the
page's language: Chinese by default (the English under it), English with ``?lang=en``, both in JSON."""

from __future__ import annotations

import pytest

from boundaries.crs import parse_crs_option
from webmap import create_app


@pytest.fixture
def client(tmp_path):
    app = create_app({"QUHUA_DB": str(tmp_path / "q.gpkg"), "TESTING": True, "SECRET_KEY": "t",
                      "UPLOAD_DIR": str(tmp_path / "up")})

    def refuse():  # the core refusing a value, as the readers do for --crs
        parse_crs_option("EPSG:3857")

    app.add_url_rule("/test-refuse", "test_refuse", refuse)
    return app.test_client()


def test_core_error_page_in_chinese_by_default(client):
    response = client.get("/test-refuse")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "不接受 --crs &#39;EPSG:3857&#39;" in html or "不接受 --crs 'EPSG:3857'" in html
    assert "is not accepted" not in html  # the page speaks the reader's language only (English with ?lang=en)


def test_core_error_page_in_english_with_lang_en(client):
    client.get("/?lang=en")
    html = client.get("/test-refuse").get_data(as_text=True)
    assert "is not accepted" in html and "不接受" not in html


def test_core_error_json_carries_both_languages(client):
    response = client.get("/test-refuse", headers={"Accept": "application/json"})
    body = response.get_json()
    assert response.status_code == 400 and body["code"] == "dataset.crs_unsupported"
    assert "is not accepted" in body["description"] and "不接受 --crs" in body["description_zh"]
