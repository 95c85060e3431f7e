"""Who is asking: sessions (signed cookies) for people, HTTP Basic for tools (GDAL, QGIS, scripts);
role checks; the CSRF token every form carries."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from webmap.db import get_store
from webmap.i18n import t
from webmap.users import User, UserStore

__all__ = ["bp", "csrf_token", "current_user", "init_app", "login_required", "roles_required"]

bp = Blueprint("auth", __name__)
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def current_user() -> User | None:
    """The logged-in user (session), or the HTTP Basic user of an API request, or None."""
    if "user" not in g:
        g.user = None
        store = get_store()
        if session.get("user"):
            g.user = UserStore(store).get(session["user"])
        elif request.authorization and request.authorization.type == "basic":
            auth = request.authorization
            g.user = UserStore(store).authenticate(auth.username or "", auth.password or "")
    return g.user


def login_required(view: Callable) -> Callable:
    """Any role may pass; anonymous users are sent to log in (401 for the API)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            if request.path.startswith(("/ogc", "/download")) or request.path.endswith(".json") \
                    or request.method != "GET":
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str) -> Callable:
    """Only users of these roles (403 for the others, login for anonymous users)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is not None and user.role not in roles:
                abort(403, f"this page is for {' / '.join(roles)} accounts; you are logged in as {user.role}")
            return view(*args, **kwargs)

        return login_required(wrapped)

    return decorate


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
        abort(413, f"the upload is larger than the limit of {limit // (1024 * 1024)} MiB")  # before parsing it
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, "the form's CSRF token is missing or wrong: reload the page and send it again")


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("overview.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with a user name and password."""
    if request.method == "POST":
        user = UserStore(get_store()).authenticate(request.form.get("username", ""),
                                                   request.form.get("password", ""))
        if user is not None:
            session.clear()
            session["user"] = user.name
            return redirect(_safe_next(request.args.get("next")))
        flash(t("login") + ": " + ("用户名或密码错误" if t("login") == "登录" else "wrong user name or password"))
        return render_template("login.html"), 401
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("overview.index"))


def init_app(app: Flask) -> None:
    """CSRF check before every unsafe request; ``csrf_token`` and ``current_user`` in templates."""
    app.before_request(_check_csrf)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.register_blueprint(bp)
