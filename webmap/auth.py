"""Who is asking: sessions (signed cookies) for people, HTTP Basic for tools (GDAL, QGIS, scripts);
role checks; the CSRF token every form carries."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from webmap.db import get_store
from webmap.errors import Forbidden, WebError
from webmap.i18n import t
from webmap.users import User, UserStore

__all__ = ["MATRIX", "PROVINCE_COLLECTIONS", "authorize", "bp", "can", "csrf_token", "current_user", "init_app",
           "login_required", "province_scope", "requires"]

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def current_user() -> User | None:
    """The logged-in user (session), or the HTTP Basic user of an API request, or None."""
    if "user" not in g:
        g.user = None
        store = get_store()
        if session.get("user"):
            g.user = _session_user(UserStore(store))
        elif request.authorization and request.authorization.type == "basic":
            auth = request.authorization
            g.user = _basic_user(UserStore(store), auth.username or "", auth.password or "")
    return g.user


def _session_user(users: UserStore) -> User | None:
    """The session's user, unless the session was ended by logging out (its id is revoked on the server)
    or has been idle longer than ``SESSION_IDLE`` or open longer than ``SESSION_MAX`` seconds; the
    session is then cleared."""
    now, config = time.time(), current_app.config
    revoked, lock = current_app.extensions["quhua.revoked"]
    with lock:
        ended = session.get("sid") in revoked
    if ended or now - session.get("auth_at", 0) > config["SESSION_MAX"] \
            or now - session.get("seen_at", 0) > config["SESSION_IDLE"]:
        session.clear()
        return None
    if now - session["seen_at"] > 60:  # the idle clock, without a new cookie on every request
        session["seen_at"] = now
    return users.get(session["user"])


def _throttle(name: str) -> None:
    """429 while the account or the address has failed ``LOGIN_MAX_FAILURES`` / ``LOGIN_MAX_PER_ADDRESS``
    times, until ``LOGIN_WINDOW`` seconds pass without a failure; refused attempts are not counted (so an
    attacker cannot keep an account locked by guessing on)."""
    failures, lock = current_app.extensions["quhua.failures"]
    config = current_app.config
    with lock:
        locked = failures.get(("user", name), 0) >= config["LOGIN_MAX_FAILURES"] \
            or failures.get(("addr", request.remote_addr), 0) >= config["LOGIN_MAX_PER_ADDRESS"]
    if locked:
        log.warning("login throttled: user %r from %s", name, request.remote_addr)
        with lock:  # one audit row per account, address and window: refusals must not flood the database
            first = failures.get(("audited", name, request.remote_addr)) is None
            failures[("audited", name, request.remote_addr)] = 1
        if first:
            _audit("login refused", name, "refused")
        minutes = int(config["LOGIN_WINDOW"]) // 60
        raise WebError(f"登录失败次数过多，请 {minutes} 分钟后再试", f"too many failed logins; try again in "
                       f"{minutes} minutes", status=429)


def _failed(name: str) -> None:
    """Count (and log) a failed login of ``name`` from the request's address."""
    log.warning("failed login: user %r from %s", name, request.remote_addr)
    _audit("login failure", name, "failed")
    failures, lock = current_app.extensions["quhua.failures"]
    with lock:
        for key in (("user", name), ("addr", request.remote_addr)):
            failures[key] = failures.get(key, 0) + 1


def _audit(action: str, name: str, outcome: str) -> None:
    """Record a failed or refused login in the audit log, on a connection of its own (the request's may be a
    read-only snapshot); only in a database that exists (a login attempt does not create one)."""
    from boundaries.audit import AuditEntry
    from boundaries.store import open_store

    with open_store(current_app.config["QUHUA_DB"]) as store:
        if store.exists():
            store.write_audit(AuditEntry(action, name[:200], request.remote_addr or "", outcome=outcome))


def check_login(users: UserStore, name: str, password: str) -> User | None:
    """The user if the password matches (throttled, failures counted and logged), else None."""
    _throttle(name)
    user = users.authenticate(name, password)
    if user is None:
        _failed(name)
    return user


def _basic_user(users: UserStore, name: str, password: str) -> User | None:
    """The HTTP Basic user, the password hash verified once per ``BASIC_AUTH_TTL`` seconds.

    GDAL and QGIS send the credential with each of hundreds of requests, and verifying a hash costs about
    0.4 s. A verified credential is remembered in the process under HMAC(secret key, name, password) (the
    password itself is never kept) with the stored hash it matched; each request still reads the account
    (one indexed row), so a removed account, a changed password or role takes effect at once, also when
    changed by ``quhua users`` in another process.
    """
    _throttle(name)
    cache, lock = current_app.extensions["quhua.verified"]
    if cache is None:  # BASIC_AUTH_TTL = 0: verified on every request
        return check_login(users, name, password)
    key = hmac.new(current_app.secret_key.encode(), f"{name}\0{password}".encode(), "sha256").digest()
    found = users.account(name)
    with lock:
        remembered = cache.get(key)
    if found is not None and remembered is not None and hmac.compare_digest(remembered, found[1]):
        return found[0]
    user = check_login(users, name, password)
    if user is not None and found is not None:
        with lock:
            cache[key] = found[1]
    return user


#: Who may do what (README "Who may do what"): action → the roles allowed, ``"own"`` standing for a
#: surveyor of the province concerned, ``None`` for everyone (anonymous users included). Every page,
#: download and API route asks :func:`can` (through :func:`requires` or :func:`authorize`), nowhere else.
MATRIX: dict[str, frozenset[str] | None] = {
    "overview": None,  # `/`, `/overview.json`, `/rules`: load status and figures, no coordinates
    "names": frozenset({"surveyor", "official", "analyst"}),  # the gazetteer: every account
    "api": frozenset({"surveyor", "official", "analyst"}),  # /ogc itself; its data as "province"
    "province": frozenset({"official", "analyst", "own"}),  # a province's lines, markers, issues, history
    "upload": frozenset({"own"}),  # check and store a submission
    "audit": frozenset({"official"}),  # /audit: who wrote what, when, from where
    # joint inspection rounds (boundaries.inspection); the province concerned is the round's two provinces
    "inspection": frozenset({"official", "analyst", "own"}),  # read rounds, their findings, photos, map
    "inspection write": frozenset({"own"}),  # plan a round, record/import findings, add photos, submit
    "inspection confirm": frozenset({"own official"}),  # confirm for one side: an official of that province
    "inspection file": frozenset({"official"}),  # file a round confirmed by both sides
}
#: The OGC collections that hold a province's controlled data (the gazetteer's are read by every account).
PROVINCE_COLLECTIONS = ("lines", "markers", "issues")


def can(user: User | None, action: str, province: str | tuple[str, ...] | None = None) -> bool:
    """Whether ``user`` (None: anonymous) may do ``action`` on ``province`` (None: no province named, e.g.
    the upload form or the API's landing page, where the province's data is then limited by
    :func:`province_scope`; a tuple: a thing of several provinces, such as an inspection round of a line
    between two, which concerns each of them). ``"own"`` admits a surveyor of the province (of one of them),
    ``"own official"`` an official whose account names the province (an official without one, the
    ministry's, does not speak for a province)."""
    allowed = MATRIX[action]
    if allowed is None:
        return True
    if user is None:
        return False
    if user.role in allowed:
        return True
    provinces = (province,) if province is None or isinstance(province, str) else tuple(province)
    if "own official" in allowed and user.role == "official":
        return user.province is not None and user.province in provinces
    return "own" in allowed and user.role == "surveyor" and (province is None or user.province in provinces)


def province_scope(user: User | None) -> str | None:
    """The one province whose data ``user`` may read (a surveyor's own), or None for every province."""
    if user is not None and not (MATRIX["province"] & {user.role}):
        return user.province
    return None


def _anonymous():
    """Anonymous users are sent to log in (401 with a Basic challenge for the API and downloads)."""
    if request.path.startswith(("/ogc", "/download", "/tiles")) or request.path.endswith(".json") \
            or request.method != "GET":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path))


def authorize(action: str, province: str | tuple[str, ...] | None = None) -> None:
    """Raise :class:`~webmap.errors.Forbidden` unless the current user may do ``action`` on ``province``."""
    user = current_user()
    if can(user, action, province):
        return
    if user is None:
        abort(401)
    if isinstance(province, tuple):
        province = "、".join(province)
    where, where_en = (f"{province} 的数据", f"the data of {province}") if province else ("此页面", "this page")
    raise Forbidden(f"您的账户（{t_role(user.role, 'zh')}{'，' + user.province if user.province else ''}）"
                    f"无权访问{where}",
                    f"your account ({user.role}{', ' + user.province if user.province else ''}) may not "
                    f"access {where_en}")


def t_role(role: str, lang: str) -> str:
    """A role's name in ``lang``."""
    return {"surveyor": "测绘人员", "official": "管理人员", "analyst": "分析人员"}.get(role, role) \
        if lang == "zh" else role


def requires(action: str, province_of: Callable[[dict], str | None] | None = None) -> Callable:
    """The view only for users who :func:`can` do ``action``; ``province_of(view_kwargs)`` names the
    province concerned (None when the URL names none or no valid one: the view then answers 404)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if current_user() is None and MATRIX[action] is not None:
                return _anonymous()
            authorize(action, province_of(kwargs) if province_of else None)
            return view(*args, **kwargs)

        return wrapped

    return decorate


login_required = requires("names")  # any account


def csrf_token() -> str:
    """The session's CSRF token (created on first use); every form sends it back."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    if request.method not in _UNSAFE:
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        mib = limit // (1024 * 1024)  # refused before the body is parsed
        raise WebError(f"上传文件超过 {mib} MiB 的上限", f"the upload is larger than the limit of {mib} MiB",
                       status=413)
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        raise WebError("表单的 CSRF 令牌缺失或有误：请刷新页面后重新提交",
                       "the form's CSRF token is missing or wrong: reload the page and send it again")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("overview.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a user name and password."""
    if request.method == "POST":
        user = check_login(UserStore(get_store()), request.form.get("username", ""),
                           request.form.get("password", ""))
        if user is not None:
            session.clear()
            now = time.time()
            session.update(user=user.name, sid=secrets.token_urlsafe(16), auth_at=now, seen_at=now)
            return redirect(_safe_next(request.args.get("next")))
        flash(t("login") + ": " + ("用户名或密码错误" if t("login") == "登录" else "wrong user name or password"))
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session: its id is revoked on the server, so a copy of the cookie no longer works."""
    revoked, lock = current_app.extensions["quhua.revoked"]
    if session.get("sid"):
        with lock:
            revoked[session["sid"]] = True
    session.clear()
    return redirect(url_for("overview.index"))


def init_app(app: Flask) -> None:
    """CSRF check before every unsafe request; ``csrf_token`` and ``current_user`` in templates."""
    app.before_request(_check_csrf)
    ttl = float(app.config["BASIC_AUTH_TTL"])
    app.extensions["quhua.verified"] = (TTLCache(maxsize=4096, ttl=ttl) if ttl > 0 else None, threading.Lock())
    window, lifetime = float(app.config["LOGIN_WINDOW"]), float(app.config["SESSION_MAX"])
    app.extensions["quhua.failures"] = (TTLCache(maxsize=100_000, ttl=window), threading.Lock())
    app.extensions["quhua.revoked"] = (TTLCache(maxsize=1_000_000, ttl=lifetime), threading.Lock())
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.register_blueprint(bp)
