"""The boundary as of a date over HTTP (issue 15): the OGC API's ``datetime`` (Part 1 §7.15.6: instants,
closed and open intervals, on valid_from/valid_to), declared in the OpenAPI document and the collections'
``extent.temporal``; 400 with a message in both languages on a bad value; on both databases, with two dated
surveys of the real 江西 lines (:mod:`tests.webmap.asof_data`)."""

from __future__ import annotations

import re

import pytest

from tests.boundaries import planted
from tests.webmap.asof_data import FIRST, SECOND, surveyed_database
from tests.webmap.conftest import login
from webmap import create_app


@pytest.fixture(scope="module")
def asof_db(request, backend, tmp_path_factory, jx_lines, jx_markers):
    with surveyed_database(request, backend, tmp_path_factory.mktemp(f"asof-{backend}"), jx_lines, jx_markers) as db:
        yield db


@pytest.fixture(scope="module")
def asof_app(asof_db, tmp_path_factory):
    return create_app({"QUHUA_DB": asof_db, "TESTING": True, "SECRET_KEY": "test-secret",
                       "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})


@pytest.fixture
def official(asof_app):
    client = asof_app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def _items(client, cid, **args):
    response = client.get(f"/ogc/collections/{cid}/items", query_string={"limit": 1000, **args})
    return response.status_code, response.get_json()


def _jx(features, line_id="3643"):
    return [f for f in features if f["properties"]["line_id"] == line_id and f["properties"]["province"] == "360000"]


def test_datetime_instants_give_the_versions_in_force_then(official):
    status, then = _items(official, "lines", datetime="2019-06-30")
    assert status == 200 and then["numberMatched"] == 2  # 江西's two lines (湖南's 3643 holds from 2021-06-01)
    (old,) = _jx(then["features"])
    assert old["properties"]["valid_from"].startswith(FIRST) and old["properties"]["valid_to"].startswith(SECOND)
    assert old["properties"]["status"] == "superseded"
    status, now = _items(official, "lines", datetime="2022-01-01T08:00:00+08:00")  # an instant: its UTC day
    (new,) = _jx(now["features"])
    assert new["properties"]["valid_from"].startswith(SECOND) and new["properties"]["valid_to"] is None
    assert new["geometry"] != old["geometry"]
    assert _items(official, "lines", datetime="2016-12-31")[1]["numberMatched"] == 0
    # markers: the two lost ones stood in 2019, the added one stands since the second agreement
    then = {f["properties"]["marker_id"] for f in _items(official, "markers", datetime="2019-06-30")[1]["features"]}
    now = {f["properties"]["marker_id"] for f in _items(official, "markers", datetime="2021-03-15")[1]["features"]}
    assert set(planted.LOST_IDS) <= then - now and planted.ADDED_ID in now - then


def test_datetime_intervals_closed_and_open(official):
    def count(value, **more):
        status, body = _items(official, "lines", datetime=value, **more)
        assert status == 200, body
        return body["numberMatched"]

    assert count("2019-01-01/2022-01-01", line_id="3643", province="360000") == 3  # 江西's two, 湖南's
    assert count("2021-03-15T00:00:00Z/2021-05-31T23:59:59Z", line_id="3643") == 1  # 江西's second only
    assert count("2021-05-01/2021-06-01", line_id="3643") == 2  # and 湖南's, from its first day
    assert count("../2017-12-31") == 2  # 江西's first survey only
    assert count("2021-06-01/..") == 3  # what is in force now
    assert count("/2017-04-30") == 0  # an empty end is open too (§7.15.6)
    assert count("2016-01-01/..") == 5  # every version


@pytest.mark.parametrize("value, english", [
    ("2019-13-01", "is not a date-time"), ("30/06/2019/x", "two ends"), ("../..", "at least one end"),
    ("2022-01-01/2019-01-01", "ends before it starts"), ("2019-06-30T10:00:00", "is not a date-time"),
])
def test_a_bad_datetime_is_400_with_a_message_in_both_languages(official, value, english):
    status, body = _items(official, "lines", datetime=value)
    assert status == 400 and body["code"] == "InvalidParameterValue"
    assert english in body["description"] and body["description_zh"]


def test_datetime_on_a_collection_without_legal_time_is_400(official):
    status, body = _items(official, "issues", datetime="2019-06-30")
    assert status == 400 and "issues has no legal time" in body["description"]
    assert "没有法定时间" in body["description_zh"]


def test_the_temporal_extent_and_the_api_definition_declare_datetime(official):
    lines = official.get("/ogc/collections/lines").get_json()
    assert lines["extent"]["temporal"] == {"interval": [[f"{FIRST}T00:00:00Z", None]],
                                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    listed = {c["id"]: c for c in official.get("/ogc/collections").get_json()["collections"]}
    assert listed["markers"]["extent"]["temporal"]["interval"] == [[f"{FIRST}T00:00:00Z", None]]
    assert "temporal" not in listed["issues"]["extent"]
    doc = official.get("/ogc/api").get_json()
    parameters = [p["$ref"] for p in doc["paths"]["/collections/lines/items"]["get"]["parameters"] if "$ref" in p]
    assert "#/components/parameters/datetime" in parameters
    assert "§7.15.6" in doc["components"]["parameters"]["datetime"]["description"]


def test_a_surveyor_reads_their_province_as_of_a_date(asof_app):
    client = asof_app.test_client()
    assert login(client, "hn").status_code == 302
    status, body = _items(client, "lines", datetime="2017-06-01")
    assert status == 200 and {f["properties"]["line_id"] for f in body["features"]} == {"3643"}  # not 3642
    assert _items(client, "lines", datetime="2017-06-01", province="360000")[0] == 403


# -- the change report over HTTP ------------------------------------------------------------------------------
def _changes(client, fmt="", code="360000", **args):
    return client.get(f"/province/{code}/changes{fmt}", query_string={"from": "2019-06-30", "to": "2022-01-01",
                                                                        **args})


def test_the_change_report_page_shows_the_planted_figures_with_a_map(official):
    response = _changes(official)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for attribute in ('data-added="1"', 'data-removed="2"', 'data-moved="1"', 'data-lines-changed="1"'):
        assert attribute in html, attribute
    assert planted.MOVED_ID in html and "37.500" in html and "EPSG:4547" in html
    assert all(i in html for i in planted.LOST_IDS) and planted.ADDED_ID in html
    assert "30.00" in html and "移位界桩" in html and 'id="changes-map"' in html
    english = _changes(official, lang="en").get_data(as_text=True)
    assert "Markers moved" in english and "Change report" in english
    # between two stored submissions: their legal dates
    by_submission = official.get("/province/360000/changes.json?from_submission=1&to_submission=2").get_json()
    assert (by_submission["from"], by_submission["to"]) == (FIRST, SECOND)
    assert by_submission["summary"]["markers_moved"] == 1
    assert official.get("/province/360000/changes?from_submission=99&to=2022-01-01").status_code == 400


def test_the_change_report_downloads_json_xlsx_pdf(official, tmp_path):
    import io

    import openpyxl

    report = _changes(official, ".json").get_json()
    assert report["summary"]["markers_moved"] == 1
    assert report["markers"]["moved"][0]["moved_m"] == pytest.approx(planted.MOVED_M, abs=0.002)
    assert report["lines"]["changed"][0]["stretches"][0]["deviation_m"] == pytest.approx(planted.SHIFT_M, abs=0.05)
    xlsx = _changes(official, ".xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.data))["界桩成果表"].values)
    assert {r[0]: r[7] for r in rows[1:]}[planted.MOVED_ID] == "移位"
    pdf = _changes(official, ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


@pytest.mark.parametrize("args, status, english", [
    ({"from": "2019-02-30"}, 400, "is not a date"), ({"to": "2018-01-01"}, 400, "must be after"),
])
def test_bad_dates_on_the_change_report_are_400_in_both_languages(official, args, status, english):
    response = _changes(official, **args, lang="en")
    assert response.status_code == status and english in response.get_data(as_text=True)
    assert "日期" in _changes(official, **args, lang="zh").get_data(as_text=True)


def test_the_change_report_is_read_as_the_province_page_is(asof_app):
    """The province page's access: a surveyor reads their own province's report, not another's."""
    client = asof_app.test_client()
    assert _changes(client).status_code in (302, 401)  # anonymous: to the login
    assert login(client, "hn").status_code == 302
    assert _changes(client).status_code == 403 and _changes(client, ".xlsx").status_code == 403
    assert client.get("/province/360000").status_code == 403  # the same answer as the page's
    assert _changes(client, code="430000").status_code == 200


def test_the_province_page_has_the_date_slider_over_its_legal_dates(official):
    html = official.get("/province/360000").get_data(as_text=True)
    assert 'id="as-of-form" data-first="2017-05-01"' in html and 'id="as-of-range"' in html
    assert "quhua-asof.js" in html and 'href="/province/360000/changes"' in html


# -- the legal date of a browser upload -------------------------------------------------------------------------
def test_an_upload_gives_its_legal_date_and_an_earlier_one_is_refused(db_copy, tmp_path, good_submission):
    from boundaries.store import open_store
    from tests.webmap.conftest import csrf_of
    from tests.webmap.test_upload import _files, _post, confirm_url, finished

    app = create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "t", "UPLOAD_DIR": str(tmp_path / "up")})
    client = app.test_client()
    assert login(client, "jx").status_code == 302
    assert 'name="valid_from"' in client.get("/upload").get_data(as_text=True)
    bad = _post(client, _files(good_submission), valid_from="2019-02-30")
    assert bad.status_code == 400 and "不是日期" in bad.get_data(as_text=True)
    # the stored 3642 holds from its ingest day (today): an agreement of 2018 cannot replace it
    html = _post(client, _files(good_submission), valid_from="2018-01-01").get_data(as_text=True)
    refused = finished(client, client.post(confirm_url(html), data={"csrf_token": csrf_of(html)}))
    assert refused.status_code == 409 and "早于" in refused.get_data(as_text=True)
    # one signed for next year: stored, the version of today holds until then
    html = _post(client, _files(good_submission), valid_from="2099-01-01").get_data(as_text=True)
    stored = finished(client, client.post(confirm_url(html), data={"csrf_token": csrf_of(html)}))
    assert stored.status_code == 302
    with open_store(db_copy) as store:
        now = store.query("lines", properties={"line_id": "3642"}).features
        assert list(now["valid_from"]) == ["2099-01-01T00:00:00.000Z"]
        in_force = store.query("lines", at="2098-12-31", properties={"line_id": "3642"}).features
        assert in_force["status"].tolist() == ["superseded"] and in_force["valid_to"].iloc[0].startswith("2099-01-01")
    # the province's submission history says from when each submission holds: the new one from 2099
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td><td>jx</td>",
                      client.get("/province/360000").get_data(as_text=True))
    assert rows[0][1] == "2099-01-01" and all(re.fullmatch(r"\d{4}-\d\d-\d\d", day) for _, day in rows), rows
    assert len(rows) >= 2 and rows[1][1] < "2099-01-01"
