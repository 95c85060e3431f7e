"""Joint inspection rounds (联检) over real HTTP to the Flask app, on both databases: a full round of the real
line 3643 (江西 360000 – 湖南 430000) — a surveyor plans it and imports the team's GBK table in 度分秒, submits;
湖南's official confirms (the moved marker keeps its stored position in the OGC API, the downloads and the
province map's data), then 江西's (it moves; the old version stays in history) — and every cell of the access
matrix's inspection rows (README "Who may do what"), each on a round in the state the step needs.

Accounts beyond tests/webmap/conftest.py's: ``hb`` a surveyor of 湖北 (420000, not a side of 3643), ``jxgov``
and ``hngov`` officials of 江西 and 湖南; ``boss`` is the ministry's official (no province).
"""

from __future__ import annotations

import io
import math

import pytest

from boundaries import inspection as core
from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD, csrf_of, login
from webmap import create_app
from webmap.users import UserStore

EXTRA = {"hb": ("surveyor", "420000"), "jxgov": ("official", "360000"), "hngov": ("official", "430000")}
ROLES = ("-", "jx", "hn", "hb", "boss", "jxgov", "hngov", "ana")


def _east_of(x: float, y: float, metres: float) -> tuple[float, float]:
    return x + metres / (111_320 * math.cos(math.radians(y))), y


def _dms(value: float, hemisphere: str) -> str:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = ((value - degrees) * 60 - minutes) * 60
    return f"{degrees}度{minutes}分{seconds:.3f}秒{hemisphere}"


@pytest.fixture
def inspect_app(db_copy, tmp_path):
    with open_store(db_copy) as store:
        users = UserStore(store)
        for name, (role, province) in EXTRA.items():
            users.add(name, PASSWORD, role, province)
    return create_app({"QUHUA_DB": db_copy, "TESTING": True, "SECRET_KEY": "test-secret",
                       "UPLOAD_DIR": str(tmp_path / "uploads")})


def _client(app, role: str):
    client = app.test_client()
    if role != "-":
        assert login(client, role).status_code == 302
    return client


def _csrf(client) -> str:
    return csrf_of(client.get("/login").get_data(as_text=True))  # the session's token, in the login form


def _post(client, url: str, data: dict | None = None, **kw):
    return client.post(url, data={"csrf_token": _csrf(client), **(data or {})}, **kw)


def _stored(db: str, marker_id: str):
    with open_store(db) as store:
        return store.query("markers", properties={"marker_id": marker_id}).features


def _ogc_position(client, marker_id: str) -> list[float]:
    page = client.get(f"/ogc/collections/markers/items?marker_id={marker_id}").get_json()
    assert page["numberMatched"] == 1, page
    return page["features"][0]["geometry"]["coordinates"]


def test_a_full_round_over_http(inspect_app, db_copy):
    db = db_copy
    before = _stored(db, "3643002Q").geometry.iloc[0]
    jx = _client(inspect_app, "jx")
    page = jx.get("/inspect/new")
    assert page.status_code == 200 and 'value="3643"' in page.get_data(as_text=True)
    response = _post(jx, "/inspect/new", {"line": "3643", "planned_from": "2026-05-10", "planned_to": "2026-05-20",
                                          "team_a": "江西勘界队", "team_b": "湖南勘界队"})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    url = response.headers["Location"]
    rid = int(url.rsplit("/", 1)[1])
    moved = _east_of(before.x, before.y, 28.0)
    table = ("界桩编号,界桩状况,经度,纬度,备注\n"
             f"3643002Q,移位,{_dms(moved[0], 'E')},{_dms(moved[1], 'N')},洪水冲移\n3643001Q,完好,,,\n")
    response = _post(jx, f"{url}/import", {"table": (io.BytesIO(table.encode("gbk")), "联检表.csv")},
                     content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    html = jx.get(url).get_data(as_text=True)
    assert "移位" in html and "洪水冲移" in html and "检查中" in html and 'id="submit-round"' in html
    assert '<span id="planned-dates">2026-05-10 … 2026-05-20</span>' in html
    assert "data-basemap-url" not in html  # none configured: the map draws on a plain background
    assert 'id="confirm-round"' not in html  # a surveyor does not confirm
    assert _post(jx, f"{url}/submit").status_code == 302
    assert "一方已提交" in jx.get(url).get_data(as_text=True)

    hngov = _client(inspect_app, "hngov")
    assert 'id="confirm-round"' in hngov.get(url).get_data(as_text=True)
    assert _post(hngov, f"{url}/confirm").status_code == 302
    html = hngov.get(url).get_data(as_text=True)
    assert 'class="confirmed" data-side="430000"' in html and 'class="awaiting" data-side="360000"' in html
    assert 'id="confirm-round"' not in html  # confirmed for 湖南 already
    # one side only: the legal position everywhere a reader looks
    ana = _client(inspect_app, "ana")
    assert _ogc_position(ana, "3643002Q") == pytest.approx([before.x, before.y], abs=1e-7)
    download = {f["properties"]["marker_id"]: f["geometry"]["coordinates"]
                for f in jx.get("/download/360000/markers.geojson").get_json()["features"]}
    assert download["3643002Q"] == pytest.approx([before.x, before.y], abs=1e-7)
    # the round's own map shows the stored position and the found one apart
    features = ana.get(f"{url}/markers.json").get_json()["features"]
    kinds = {(f["properties"]["marker_id"], f["properties"]["kind"]): f for f in features}
    assert kinds[("3643002Q", "stored")]["geometry"]["coordinates"] == pytest.approx([before.x, before.y], abs=1e-7)
    assert kinds[("3643002Q", "found")]["properties"]["shift_m"] == pytest.approx(28.0, abs=0.05)
    assert kinds[("3643001Q", "stored")]["properties"]["condition"] == "intact"
    assert kinds[("3643003Q", "stored")]["properties"]["condition"] is None

    jxgov = _client(inspect_app, "jxgov")
    assert _post(jxgov, f"{url}/confirm").status_code == 302
    assert "双方已确认" in jxgov.get(url).get_data(as_text=True)
    assert _ogc_position(ana, "3643002Q") == pytest.approx(list(moved), abs=1e-6)  # 0.001″ of the table: 3 cm
    with open_store(db) as store:
        record = core.get_round(store, rid)
        history = store.query("markers", properties={"marker_id": "3643002Q"}, history=True).features
    assert (record["confirmed_a_by"], record["confirmed_b_by"]) == ("jxgov", "hngov")
    old = history[history["status"] == "superseded"]
    assert old.geometry.iloc[-1].equals(before) and str(old["valid_to"].iloc[-1]).startswith(record["round_date"])
    sid = record["submission_id"]
    in_submission = jx.get(f"/download/submission/{sid}/markers.geojson").get_json()["features"]
    assert [f["properties"]["marker_id"] for f in in_submission] == ["3643002Q"]
    assert f"联检 {rid}" in jx.get("/province/360000").get_data(as_text=True)  # the province's history shows it
    boss = _client(inspect_app, "boss")
    assert _post(boss, f"{url}/file").status_code == 302
    assert "已备案" in boss.get(url).get_data(as_text=True)
    assert ">filed<" in boss.get(url + "?lang=en").get_data(as_text=True)
    with open_store(db) as store:
        actions = [(r["action"], r["user"], r["address"]) for r in store.read_audit(limit=6).rows]
    assert [a for a, _, _ in actions[:6]] == ["inspect file", "inspect confirm", "inspect confirm", "inspect submit",
                                              "inspect findings", "inspect new"]
    assert actions[1][1:] == ("jxgov", "127.0.0.1")


def test_bad_imports_and_photos_say_what_is_wrong(inspect_app, db_copy):
    jx = _client(inspect_app, "jx")
    url = _post(jx, "/inspect/new", {"line": "3643"}).headers["Location"]
    table = "界桩编号,界桩状况\n3643777Q,完好\n3643002Q,歪了\n"
    response = _post(jx, f"{url}/import", {"table": (io.BytesIO(table.encode()), "../../etc/联检.csv")},
                     content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "第 2 行：界桩 3643777Q 不是界线 3643 上已入库的界桩" in html
    assert "第 3 行：界桩 3643002Q：未知的界桩状况" in html
    response = _post(jx, f"{url}/import?lang=en", {"table": (io.BytesIO(table.encode()), "t.csv")},
                     content_type="multipart/form-data")
    assert "row 3: marker 3643002Q: unknown condition" in response.get_data(as_text=True)
    response = _post(jx, f"{url}/photos?lang=zh", {"photo": (io.BytesIO(b"GIF89a not ours"), "x.jpg")},
                     content_type="multipart/form-data")
    assert response.status_code == 400 and "不是 JPEG 或 PNG 照片" in response.get_data(as_text=True)
    response = _post(jx, f"{url}/import", {"table": (io.BytesIO(b"x"), "t.txt")}, content_type="multipart/form-data")
    assert response.status_code == 409 and "应为 .csv 或 .xlsx" in response.get_data(as_text=True)
    with open_store(db_copy) as store:
        record = core.get_round(store, int(url.rsplit("/", 1)[1]))
    assert record["findings"] == [] and record["photos"] == [] and record["status"] == "planned"
    assert _post(jx, f"{url}/submit").status_code == 409  # nothing to submit yet


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _round_in(db: str, state: str) -> int:
    """A new round of 3643 in ``state``, with a finding (002 moved 20 m) and a photo."""
    with open_store(db) as store:
        record = core.create_round(store, ["3643"], user="setup")
        rid = record["fid"]
        if state == "planned":
            return rid
        point = store.query("markers", properties={"marker_id": "3643002Q"}).features.geometry.iloc[0]
        lon, lat = _east_of(point.x, point.y, 20.0)
        core.record_findings(store, rid, [core.Finding("3643002Q", "moved", lon=lon, lat=lat)], user="setup")
        core.add_photo(store, rid, _png(), "p.png", user="setup")
        if state in ("submitted", "confirmed"):
            core.submit(store, rid, side="360000", user="setup")
        if state == "confirmed":
            core.confirm(store, rid, side="360000", user="setup")
            core.confirm(store, rid, side="430000", user="setup")
    return rid


READ = (302, 200, 200, 403, 200, 200, 200, 200)
READ_API = (401, *READ[1:])
WRITE = (401, 302, 302, 403, 403, 403, 403, 403)
CONFIRM = (401, 403, 403, 403, 403, 302, 302, 403)
FILE = (401, 403, 403, 403, 302, 302, 302, 403)


def _finding(_db, _rid):
    return {"marker_id": "3643001Q", "condition": "damaged", "remarks": "桩头破损"}


def _table(_db, _rid):
    return {"table": (io.BytesIO("界桩编号,状况\n3643001Q,完好\n".encode("gbk")), "t.csv")}


def _photo(_db, _rid):
    return {"photo": (io.BytesIO(_png()), "p.png")}


def _photo_id(db, rid):
    with open_store(db) as store:
        return core.get_round(store, rid)["photos"][0]["fid"]


#: (method, url with {rid}/{pid}, the round's state, form data, status per ROLES)
CELLS = [
    ("GET", "/inspect", "planned", None, (302, *(200,) * 7)),
    ("GET", "/inspect/new", "planned", None, (302, 200, 200, 200, 403, 403, 403, 403)),
    ("POST", "/inspect/new", "planned", lambda db, rid: {"line": "3643"}, WRITE),
    ("GET", "/inspect/{rid}", "in_progress", None, READ),
    ("GET", "/inspect/{rid}/markers.json", "in_progress", None, READ_API),
    ("GET", "/inspect/photos/{pid}", "in_progress", None, READ),
    ("POST", "/inspect/{rid}/findings", "in_progress", _finding, WRITE),
    ("POST", "/inspect/{rid}/import", "in_progress", _table, WRITE),
    ("POST", "/inspect/{rid}/photos", "in_progress", _photo, WRITE),
    ("POST", "/inspect/{rid}/submit", "in_progress", None, WRITE),
    ("POST", "/inspect/{rid}/confirm", "submitted", None, CONFIRM),
    ("POST", "/inspect/{rid}/file", "confirmed", None, FILE),
]


@pytest.mark.parametrize("method,url,state,data,statuses", CELLS, ids=[f"{m} {u}" for m, u, *_ in CELLS])
def test_every_cell_of_the_inspection_rows(inspect_app, db_copy, method, url, state, data, statuses):
    """Each role on a fresh round in the state the step needs: the status the README's table gives, and a
    refused write leaves the round as it was."""
    for role, status in zip(ROLES, statuses, strict=True):
        rid = _round_in(db_copy, state)
        target = url.format(rid=rid, pid=_photo_id(db_copy, rid) if "{pid}" in url else 0)
        client = _client(inspect_app, role)
        with open_store(db_copy) as store:
            record = core.get_round(store, rid)
        was = (record["status"], len(record["findings"]), len(record["photos"]))
        if method == "GET":
            response = client.get(target)
        else:
            response = _post(client, target, data(db_copy, rid) if data else None,
                             content_type="multipart/form-data")
        assert response.status_code == status, (role, target, response.get_data(as_text=True)[:300])
        if status == 403:
            body = response.json["description_zh"] if response.is_json else response.get_data(as_text=True)
            assert "无权访问" in body
        if method == "POST" and status != 302:
            with open_store(db_copy) as store:
                record = core.get_round(store, rid)
            assert (record["status"], len(record["findings"]), len(record["photos"])) == was


def test_the_list_shows_a_surveyor_only_the_rounds_of_their_province(inspect_app, db_copy):
    rid = _round_in(db_copy, "planned")
    assert f"/inspect/{rid}" in _client(inspect_app, "hn").get("/inspect").get_data(as_text=True)
    assert f"/inspect/{rid}" not in _client(inspect_app, "hb").get("/inspect").get_data(as_text=True)
    assert f"/inspect/{rid}" in _client(inspect_app, "ana").get("/inspect").get_data(as_text=True)


def test_the_overview_shows_each_lines_last_confirmed_round_and_when_it_is_due(inspect_app, db_copy):
    import re

    page = _client(inspect_app, "-").get("/").get_data(as_text=True)
    assert 'data-due="0" data-confirmed="0"' in page and "省际界线 2 条" in page  # 3642 and 3643, both new
    rid = _round_in(db_copy, "confirmed")
    with open_store(db_copy) as store:
        day = core.get_round(store, rid)["round_date"]
    page = _client(inspect_app, "-").get("/").get_data(as_text=True)
    assert 'data-due="0" data-confirmed="1"' in page
    row = re.search(r'<tr data-line="3643"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert day in row and f"{int(day[:4]) + 5}{day[4:]}" in row and "江西 – 湖南" in row
    assert "尚无" in re.search(r'<tr data-line="3642"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert f'href="/inspect/{rid}"' in _client(inspect_app, "ana").get("/").get_data(as_text=True)


def test_the_round_pages_in_english(inspect_app, db_copy):
    rid = _round_in(db_copy, "submitted")
    hngov = _client(inspect_app, "hngov")
    page = hngov.get(f"/inspect/{rid}?lang=en").get_data(as_text=True)
    assert "Marker findings (1)" in page and "submitted by one side" in page and "awaiting confirmation" in page
    assert "Confirm (for Hunan" in page and "moved" in page and "界桩状况" not in page
    assert '<span id="planned-dates">not set</span>' in page and "new position found in this round" in page
    assert "Joint inspections" in hngov.get("/inspect").get_data(as_text=True)
