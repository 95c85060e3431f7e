"""The viewer's exceptions and the one place where every error becomes an HTTP response.

A :class:`WebError` carries its HTTP status; the core's :class:`~boundaries.errors.QuhuaError` family maps
to 400 (bad input) or 500 (the store: its message, which may hold the database URL, goes to the log only).
The API (``/ogc``, JSON requests) gets a JSON body, pages an HTML page, never with status 200.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from boundaries.errors import QuhuaError, StoreError

__all__ = ["Forbidden", "NotFound", "WebError", "register_error_handlers"]

log = logging.getLogger(__name__)


class WebError(Exception):
    """An error a client can act on, with its HTTP status and a message (Chinese, English)."""

    status = 400

    def __init__(self, message: str, message_en: str | None = None, *, status: int | None = None):
        super().__init__(message_en or message)
        self.message = message
        self.message_en = message_en or message
        if status is not None:
            self.status = status


class NotFound(WebError):
    """Something named in the URL does not exist (404)."""

    status = 404


class Forbidden(WebError):
    """The user's role or province does not allow this (403)."""

    status = 403


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/geo+json"])
    return request.path.startswith("/ogc") or request.path.endswith((".json", ".geojson", ".mvt")) or (
        best is not None and best != "text/html")


def error_response(status: int, message: str, message_en: str, code: str) -> tuple[Response | str, int]:
    """The response for an error: OGC-style JSON exception for the API, else the error page."""
    if _wants_json():
        body = jsonify({"code": code, "description": message_en, "description_zh": message})
        return body, status
    return render_template("error.html", status=status, message=message, message_en=message_en), status


def register_error_handlers(app: Flask) -> None:
    """Wire every error to :func:`error_response` (called once by ``create_app``)."""

    @app.errorhandler(WebError)
    def _web(err: WebError):
        return error_response(err.status, err.message, err.message_en, type(err).__name__)

    @app.errorhandler(QuhuaError)
    def _core(err: QuhuaError):
        if isinstance(err, StoreError):  # its message may name the database URL, with a password: logged only
            log.error("database error on %s: %s", request.path, err.message)
            return error_response(500, "数据库暂时不可用", "the database is not available at the moment; try again "
                                  "later, or tell the administrator", err.rule)
        return error_response(400, err.text("zh"), err.message, err.rule)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        zh = {400: "请求无效：请检查地址中的参数", 401: "请先登录", 403: "无权访问：您的账户不能查看或修改此内容",
              404: "未找到：此地址没有对应的页面或数据，请检查链接", 405: "不允许的请求方法",
              413: "上传文件过大", 429: "请求过多，请稍后再试"}.get(err.code or 500, "服务器错误")
        response = error_response(err.code or 500, zh, err.description or err.name, err.name)
        if err.code == 401 and request.path.startswith(("/ogc", "/download", "/tiles")):
            response[0].headers["WWW-Authenticate"] = 'Basic realm="quhua"'
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error on %s", request.path)
        return error_response(500, "服务器内部错误", "internal server error", "InternalServerError")
