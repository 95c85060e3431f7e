"""``/upload``: check first (report table and issue map), store only without errors after confirmation,
only the surveyor's own province; files kept server-side, never served back; refusals."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from boundaries.store import open_store
from tests.webmap.conftest import csrf_of, login
from webmap import create_app


@pytest.fixture
def upload_app(db_copy, tmp_path):
    """An app over a copy of the test database, so that what a test stores stays its own."""
    return create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "t", "UPLOAD_DIR": str(tmp_path / "up"),
                       "MAX_CONTENT_LENGTH": 5 * 1024 * 1024})


@pytest.fixture
def surveyor(upload_app):
    client = upload_app.test_client()
    assert login(client, "jx").status_code == 302
    return client


def _files(paths: list[Path]) -> list[tuple]:
    """Every file of shapefiles (with sidecars) as (stream, name) pairs for a multipart form."""
    out = []
    for shp in paths:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            out.append((io.BytesIO(part.read_bytes()), part.name))
    return out


def finished(client, response, timeout: float = 180):
    """The page a started job ends on: ``response`` (a 303 to the job's page) followed, its status polled
    until the worker is done; other responses (refusals before any job) as they are."""
    if response.status_code != 303:
        return response
    url = response.headers["Location"]
    deadline = time.monotonic() + timeout
    while not client.get(url + "/status.json").json["finished"]:
        assert time.monotonic() < deadline, f"the job {url} did not finish in {timeout} s"
        time.sleep(0.1)
    return client.get(url)


def _post(client, files, **form):
    """Upload ``files`` through the form; the job's final page (the report)."""
    token = csrf_of(client.get("/upload").get_data(as_text=True))
    data = {"csrf_token": token, "files": files} | form
    return finished(client, client.post("/upload", data=data, content_type="multipart/form-data"))


def confirm_url(html: str) -> str:
    return next(part.split('"')[0] for part in html.split('action="') if "/confirm" in part.split('"')[0])


def _submissions(app) -> int:
    with open_store(app.config["QUHUA_DB"]) as store:
        return len(store.read_layer("submissions"))


def test_check_then_confirm_stores_the_submission(surveyor, upload_app, good_submission):
    before = _submissions(upload_app)
    response = _post(surveyor, _files(good_submission))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="verdict"' in html and "无错误" in html
    assert 'id="confirm-form"' in html and 'id="issue-map"' in html
    assert _submissions(upload_app) == before  # checked, not stored
    confirm = confirm_url(html)
    stored = finished(surveyor, surveyor.post(confirm, data={"csrf_token": csrf_of(html)}))
    assert stored.status_code == 302 and stored.headers["Location"].endswith("/province/360000")
    assert _submissions(upload_app) == before + 1
    assert "已入库" in surveyor.get("/province/360000").get_data(as_text=True)
    # the warning of the first submission went with the line it was about: 江西 is now "updated"
    row = surveyor.get("/").get_data(as_text=True).split('data-code="360000"')[1].split("</tr>")[0]
    assert "经新联检更新" in row
    again = surveyor.post(confirm, data={"csrf_token": csrf_of(html)})
    assert again.status_code == 404  # the waiting files are gone


def test_a_submission_with_errors_is_reported_and_cannot_be_stored(surveyor, upload_app, bad_submission):
    response = _post(surveyor, _files(bad_submission))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "有错误" in html
    assert "marker.off_line" in html and "3642003Q" in html and 'href="/rules#marker.off_line"' in html
    assert 'id="confirm-form"' not in html
    assert list(Path(upload_app.config["UPLOAD_DIR"]).glob("*/*.shp"))  # kept server-side …
    assert not any(".shp" in r for r in (str(rule) for rule in upload_app.url_map.iter_rules()))  # … not served


def test_a_zip_upload_and_english_report(surveyor, good_submission, tmp_path):
    archive = tmp_path / "jx.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for stream, name in _files(good_submission):
            z.writestr(name, stream.read())
    surveyor.get("/?lang=en")
    response = _post(surveyor, [(io.BytesIO(archive.read_bytes()), "jx.zip")])
    assert response.status_code == 200 and "No errors" in response.get_data(as_text=True)


def test_zip_slip_is_refused_unreadable(surveyor, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../evil.shp", b"x")
    response = _post(surveyor, [(io.BytesIO(archive.read_bytes()), "evil.zip")])
    assert response.status_code == 422 and "dataset.unreadable" in response.get_data(as_text=True)
    assert not (tmp_path.parent / "evil.shp").exists()


def test_only_for_the_own_province(surveyor, good_submission):
    response = _post(surveyor, _files(good_submission), province="430000")
    assert response.status_code == 403


@pytest.mark.parametrize("name", ["run.exe", "script.py", ".hidden.shp", "noext"])
def test_other_kinds_of_file_are_refused(surveyor, name):
    response = _post(surveyor, [(io.BytesIO(b"x"), name)])
    assert response.status_code == 400


def test_no_file_is_refused(surveyor):
    assert _post(surveyor, []).status_code == 400


def test_upload_size_limit(surveyor):
    """Refused from its Content-Length, before the body is read."""
    token = csrf_of(surveyor.get("/upload").get_data(as_text=True))
    response = surveyor.post("/upload", data={"csrf_token": token, "files": [(io.BytesIO(b"0" * 1000), "big.zip")]},
                             content_type="multipart/form-data",
                             environ_overrides={"CONTENT_LENGTH": str(6 * 1024 * 1024)})
    assert response.status_code == 413 and "MiB" in response.get_data(as_text=True)


def test_without_csrf_token_nothing_happens(surveyor, good_submission):
    response = surveyor.post("/upload", data={"files": _files(good_submission)}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_another_users_upload_cannot_be_confirmed(surveyor, upload_app, good_submission):
    html = _post(surveyor, _files(good_submission)).get_data(as_text=True)
    confirm = confirm_url(html)
    other = upload_app.test_client()
    login(other, "hn")
    token = csrf_of(other.get("/upload").get_data(as_text=True))
    assert other.post(confirm, data={"csrf_token": token}).status_code == 403
    job = confirm.removesuffix("/confirm")
    assert other.get(job).status_code == 403 and other.get(job + "/status.json").status_code == 403
    assert other.post("/upload/not-a-token!/confirm", data={"csrf_token": token}).status_code == 404


def test_a_confirmation_before_the_check_has_ended_or_twice_stores_once(surveyor, upload_app, good_submission):
    """The confirm button is offered after a check without errors; a POST before that is refused (409), a
    second one while storing shows the running job again, and the submission is stored once."""
    token = csrf_of(surveyor.get("/upload").get_data(as_text=True))
    started = surveyor.post("/upload", data={"csrf_token": token, "files": _files(good_submission)},
                            content_type="multipart/form-data")
    job = started.headers["Location"]
    running = not surveyor.get(job + "/status.json").json["finished"]
    early = surveyor.post(job + "/confirm", data={"csrf_token": token})
    if running:  # the check of 2 lines and 110 markers takes longer than these two requests
        assert early.status_code == 409 and "检查完毕且没有错误" in early.get_data(as_text=True)
    html = finished(surveyor, started).get_data(as_text=True)
    before = _submissions(upload_app)
    first = surveyor.post(confirm_url(html), data={"csrf_token": token})
    second = surveyor.post(confirm_url(html), data={"csrf_token": token})
    assert first.status_code == 303 and second.status_code in (303, 404)  # 404: already stored and gone
    assert finished(surveyor, first).status_code == 302
    assert _submissions(upload_app) == before + 1


def test_discard_removes_the_waiting_files(surveyor, upload_app, good_submission):
    html = _post(surveyor, _files(good_submission)).get_data(as_text=True)
    discard = next(part.split('"')[0] for part in html.split('action="') if "/discard" in part.split('"')[0])
    assert surveyor.post(discard, data={"csrf_token": csrf_of(html)}).status_code == 302
    assert not list(Path(upload_app.config["UPLOAD_DIR"]).glob("*/*.shp"))


def _undecodable_shapefile(folder: Path, jx_lines) -> Path:
    """A line shapefile whose attributes decode neither as UTF-8 nor as GB18030, and no .cpg."""
    from tests.conftest import write_shapefiles

    (path,) = write_shapefiles(folder, jx_lines, None, encoding="UTF-8", cpg=False)
    dbf = path.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes().replace("江西".encode(), b"\xff\xfe\xff\xfe\xff\xfe"))
    return path


def test_unusable_upload_is_explained_in_the_pages_language(surveyor, upload_app, tmp_path, jx_lines):
    path = _undecodable_shapefile(tmp_path / "bad", jx_lines)
    response = _post(surveyor, _files([path]))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "dataset.encoding" in html
    assert "江西省界线.dbf：属性既不能按 UTF-8 也不能按 GB18030/GBK 解码" in html and "decode neither" not in html
    surveyor.get("/?lang=en")
    response = _post(surveyor, _files([path]))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "the attributes decode neither as UTF-8 nor as GB18030/GBK" in html
    assert "属性既不能按" not in html
    assert not list(Path(upload_app.config["UPLOAD_DIR"]).glob("*/*.shp"))  # refused uploads are not kept


@pytest.mark.parametrize(("core", "web"), [
    ("请用 --crs EPSG:4547 指定", "请在上传表单的“坐标系”中选择 EPSG:4547"),
    ("请用 --crs EPSG:NNNN 指定（如中央经线 114°E 的 3° 带为 EPSG:4547）",
     "请在上传表单的“坐标系”中选择 EPSG:NNNN（如中央经线 114°E 的 3° 带为 EPSG:4547）"),
    ("如 .prj 有误，请用 --crs 指定", "如 .prj 有误，请在上传表单的“坐标系”中选择"),
    ("请去掉 --crs 或改为 EPSG:4490", "请在上传表单的“坐标系”中改选“按文件（.prj）”或 EPSG:4490"),
    ("add the .prj or give --crs EPSG:NNNN (e.g. EPSG:4547)",
     "add the .prj or choose EPSG:NNNN in the upload form's coordinate system (e.g. EPSG:4547)"),
    ("drop --crs or give EPSG:4490", "choose 'from the file (.prj)' or EPSG:4490"),
])
def test_core_messages_name_the_upload_forms_crs_choice_not_the_cli_flag(core, web):
    from webmap.views.upload import web_wording

    assert web_wording(core) == web


def test_a_shapefile_without_prj_is_told_to_choose_the_crs_on_the_form(surveyor, good_submission, tmp_path):
    files = [(stream, name) for stream, name in _files(good_submission) if not name.endswith(".prj")]
    html = _post(surveyor, files).get_data(as_text=True)
    assert "dataset.crs_missing" in html and "--crs" not in html
    assert "上传表单的“坐标系”" in html
