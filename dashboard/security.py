"""HTTP hardening of the dashboard: CSP, no framing, no sniffing, referrer, cache, origin, errors.

    security.install(app)     # called by dashboard.auth.init_auth

The content-security policy allows only this server: scripts from 'self' plus the hashes of
Dash's own inline scripts (the renderer bootstrap and clientside callbacks, `app.csp_hashes()`),
styles from 'self' and inline (Dash and Plotly set style attributes and inject <style>),
images/fonts from 'self', data: and blob:, web workers from blob: (MapLibre map traces), and
nothing else: no CDN, no external host, no plugins, no framing (frame-ancestors 'none').
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

from flask import Response, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")


def csp(script_hashes: list[str] | tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy value (script hashes are 'sha256-…' strings from Dash)."""
    scripts = " ".join(["'self'", *(h if h.startswith("'") else f"'{h}'" for h in script_hashes)])
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=(), payment=(), usb=()",
}


def scrub_logs() -> None:
    """Mask ID and phone numbers in every log record of the process (messages, arguments, tracebacks).

    Installed once as the log record factory, so records from any library (werkzeug request
    lines with query strings, callback tracebacks) pass through `access.scrub`.
    """
    from dashboard.access import scrub

    old = logging.getLogRecordFactory()
    if getattr(old, "_wagemap_scrub", False):
        return

    def factory(*args, **kwargs):
        record = old(*args, **kwargs)
        try:
            record.msg = scrub(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        except Exception:  # noqa: BLE001 - never lose a log line to the scrubber
            pass
        return record

    factory._wagemap_scrub = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def install(app) -> None:
    """Add the headers, the same-origin check for state-changing requests and traceback-free errors."""
    scrub_logs()
    server = app.server
    server.config["PROPAGATE_EXCEPTIONS"] = False
    server.debug = False
    cache: dict[int, str] = {}

    def policy() -> str:
        # Dash adds inline scripts (clientside callbacks) until its first request is done
        from dash import _callback

        n = len(getattr(app, "_inline_scripts", ())) + len(_callback.GLOBAL_INLINE_SCRIPTS)
        if n not in cache:
            try:
                cache[n] = csp(app.csp_hashes())
            except Exception:  # noqa: BLE001 - no hashes: inline scripts blocked, app still safe
                log.exception("csp hashes")
                cache[n] = csp()
        return cache[n]

    @server.before_request
    def _same_origin():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and origin != "null":
            host = urlsplit(origin).netloc
            if host and host != request.host:
                return Response("跨站请求被拒绝", status=403, content_type="text/plain; charset=utf-8")
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        for k, v in HEADERS.items():
            resp.headers.setdefault(k, v)
        resp.headers["Content-Security-Policy"] = policy()
        if not request.path.startswith(STATIC_PREFIXES):
            resp.headers["Cache-Control"] = "no-store"  # personal data must not stay in shared caches
        resp.headers.pop("Server", None)
        return resp

    if Exception not in server.error_handler_spec.get(None, {}).get(None, {}):
        server.register_error_handler(Exception, error_response)


def error_response(err: Exception):
    """A short Chinese text for any error, never a traceback (used when the app has none of its own)."""
    if isinstance(err, HTTPException):
        msgs = {400: "请求格式错误", 401: "未登录", 403: "无权访问", 404: "页面或文件不存在", 405: "不支持的请求方式"}
        code = err.code or 500
        return msgs.get(code, "请求无法完成"), code, {"Content-Type": "text/plain; charset=utf-8"}
    ref = uuid.uuid4().hex[:8]
    log.error("server error %s", ref, exc_info=err)
    return f"服务器出错（错误编号：{ref}）", 500, {"Content-Type": "text/plain; charset=utf-8"}
