"""The audit log in the viewer (issue 12, item 9), on both databases: a web confirmation is recorded in the
ingest's transaction with the surveyor and the client's address, failed and refused logins with the name
tried; officials read ``/audit`` (Chinese, English), filtered by province, user and action, 50 rows a page."""

from __future__ import annotations

import re

import pytest

from boundaries.audit import AuditEntry
from boundaries.store import open_store
from tests.webmap.conftest import csrf_of, login
from tests.webmap.test_upload import _files, _post, confirm_url, finished, surveyor, upload_app  # noqa: F401


@pytest.fixture
def official(upload_app):  # noqa: F811
    client = upload_app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def _rows(app, **filters) -> list[dict]:
    with open_store(app.config["QUHUA_DB"]) as store:
        return store.read_audit(**filters, limit=1000).rows


def test_a_web_confirmation_is_recorded_with_the_surveyor_and_address(surveyor, official, upload_app,  # noqa: F811
                                                                      good_submission):
    html = _post(surveyor, _files(good_submission)).get_data(as_text=True)
    stored = finished(surveyor, surveyor.post(confirm_url(html), data={"csrf_token": csrf_of(html)}))
    assert stored.status_code == 302
    (row,) = _rows(upload_app, action="confirm")
    assert (row["user"], row["province"], row["address"], row["outcome"]) == ("jx", "360000", "127.0.0.1", "stored")
    with open_store(upload_app.config["QUHUA_DB"]) as store:
        assert row["submission_id"] == int(store.read_layer("submissions")["fid"].max())
    page = official.get("/audit?action=confirm").get_data(as_text=True)
    assert "网页确认入库" in page and "已入库" in page and "127.0.0.1" in page and "江西省界线.shp" in page
    assert "token" not in page.split('id="audit-log"')[1]  # the upload's token is not shown


def test_failed_and_refused_logins_are_recorded_once_per_window(upload_app, official):  # noqa: F811
    client = upload_app.test_client()
    for _ in range(upload_app.config["LOGIN_MAX_FAILURES"] + 3):
        login(client, "jx", "wrong password")
    failures = _rows(upload_app, action="login failure", user="jx")
    refusals = _rows(upload_app, action="login refused", user="jx")
    assert len(failures) == upload_app.config["LOGIN_MAX_FAILURES"] and len(refusals) == 1
    assert {r["address"] for r in failures} == {"127.0.0.1"} and {r["outcome"] for r in failures} == {"failed"}
    page = official.get("/audit?user=jx&action=login+failure").get_data(as_text=True)
    assert page.count("登录失败") >= len(failures) and "第 1–5 条，共 5 条" in page


def test_the_audit_page_filters_and_pages(official, upload_app):  # noqa: F811
    with open_store(upload_app.config["QUHUA_DB"]) as store:
        for i in range(60):
            store.write_audit(AuditEntry("ingest", f"u{i % 3}", "cli", "360000" if i % 2 else "430000",
                                         submission_id=i, outcome="stored"))
    page = official.get("/audit?action=ingest").get_data(as_text=True)
    assert "第 1–50 条，共 60 条" in page and 'rel="next"' in page
    assert len(re.findall(r"<tr class=\"outcome-", page)) == 50
    second = official.get("/audit?action=ingest&page=2").get_data(as_text=True)
    assert "第 51–60 条，共 60 条" in second and 'rel="prev"' in second and 'rel="next"' not in second
    province = official.get("/audit?province=430000&user=u0&action=ingest").get_data(as_text=True)
    assert "共 10 条" in province and "湖南" in province and "江西" not in province.split('id="audit-log"')[1]
    english = official.get("/audit?action=ingest&lang=en").get_data(as_text=True)
    assert "Audit log" in english and "1–50 of 60" in english and "ingest (command line)" in english
    assert official.get("/audit?province=99").status_code == 400
    assert official.get("/audit?action=drop+table").status_code == 400
