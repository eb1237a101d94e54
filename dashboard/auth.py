"""Login and the gate in front of every route: sessions, lockout, role checks, view/export audit.

    from dashboard.auth import init_auth
    init_auth(app, store)        # in create_app, after pages and download routes are registered

What it does to the Flask server of a Dash `app`:
- signed, HttpOnly, SameSite=Lax session cookie (flask-login); `/login` (Chinese, plain HTML,
  CSRF token), `/logout` (POST with the token; GET shows a button);
- a gate before every request: nothing but `/login` without a session; `/_dash-update-component`
  checked against the page/role matrix of dashboard/access.py by the module that registered
  the callback; downloads/exports by their URL prefix; page layouts wrapped with the page check
  and the view audit; the store bound so RLS follows the signed-in user (access.bind_store);
- security headers and error pages (dashboard/security.py); exports audited.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, request, session
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_login import current_user as flask_user
from markupsafe import escape

from dashboard import access, security
from dashboard.users import ROLE_ZH, Account, authenticate, get_account, lockout_policy

log = logging.getLogger(__name__)

SESSION_HOURS = 8
COOKIE_NAME = "wagemap_session"
_SECRET_META_KEY = "session_secret"


class SessionUser(UserMixin):
    """The flask-login user: an account plus its password fingerprint (a reset ends the session)."""

    def __init__(self, acct: Account):
        self.acct = acct

    def get_id(self) -> str:
        return f"{self.acct.id}:{self.acct.fingerprint}"

    def as_access_user(self) -> access.User:
        return access.User(name=self.acct.name, role=self.acct.role, townships=self.acct.townships, id=self.acct.id)


# ---- setup ----------------------------------------------------------------------------------


def init_auth(app, store, settings=None) -> LoginManager:
    """Install login, the request gate, page guards, headers and audit on a Dash app's server."""
    from geodata.settings import get_settings

    settings = settings or get_settings()
    server: Flask = app.server
    server.secret_key = _secret_key(store, settings)
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(getattr(settings, "cookie_secure", False)),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(seconds=0),
        PROPAGATE_EXCEPTIONS=False,
    )
    lm = LoginManager()
    lm.session_protection = "strong"
    lm.init_app(server)

    @lm.user_loader
    def _load(uid: str) -> SessionUser | None:
        return _load_user(store, uid)

    access.bind_store(store)
    server.add_url_rule("/login", "wagemap_login", _login_view(store), methods=["GET", "POST"])
    server.add_url_rule("/logout", "wagemap_logout", _logout_view, methods=["GET", "POST"])
    server.before_request(_gate(app))
    server.after_request(_audit_exports)
    _guard_pages()
    security.install(app)
    return lm


def _secret_key(store, settings) -> str:
    """settings.secret_key, else one kept in the store (shared by workers, survives restarts)."""
    if getattr(settings, "secret_key", ""):
        return settings.secret_key
    import sqlalchemy as sa

    from geodata import schema

    m = schema.store_meta
    with store.begin() as conn:
        value = conn.execute(sa.select(m.c.value).where(m.c.key == _SECRET_META_KEY)).scalar()
        if not value:
            value = secrets.token_hex(32)
            conn.execute(m.insert().values(key=_SECRET_META_KEY, value=value))
    return value


def _load_user(store, uid: str) -> SessionUser | None:
    try:
        sid, fingerprint = uid.split(":", 1)
        acct = get_account(store, user_id=int(sid))
    except (ValueError, TypeError):
        return None
    if acct is None or acct.disabled or acct.fingerprint != fingerprint or acct.role not in access.ROLES:
        return None
    return SessionUser(acct)


# ---- login / logout -------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token for plain forms (login, logout)."""
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(24)
    return tok


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    return bool(sent) and secrets.compare_digest(sent, session.get("csrf", ""))


def _safe_next(target: str | None) -> str:
    """Only a local path: no scheme, no host, no '//' or backslash tricks (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _login_view(store):
    def view() -> Any:
        max_fail, minutes = lockout_policy()
        if request.method == "GET":
            if flask_user.is_authenticated:
                return redirect(_safe_next(request.args.get("next")))
            return _login_page(request.args.get("next", "/"), "")
        nxt = request.form.get("next", "/")
        if not _csrf_ok():
            return _login_page(nxt, "页面已过期，请重新登录。"), 400
        outcome = authenticate(store, request.form.get("username", ""), request.form.get("password", ""))
        if not outcome.ok or outcome.account is None:
            msg = f"登录失败：用户名或密码错误，或账户已停用、已临时锁定（连续失败 {max_fail} 次将锁定 {minutes} 分钟）。"
            return _login_page(nxt, msg), 401
        session.clear()  # a fresh session for the new identity
        session.permanent = True
        login_user(SessionUser(outcome.account))
        csrf_token()
        return redirect(_safe_next(nxt))

    return view


def _logout_view() -> Any:
    if request.method == "GET":
        return _page("退出登录", f"""<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">
<p>确定退出登录？</p><button type="submit">退出</button></form>""")
    if not _csrf_ok():
        return _page("退出登录", "<p>页面已过期，请重试。</p>"), 400
    if flask_user.is_authenticated:
        access.audit("logout", flask_user.acct.name, user=flask_user.acct.name)
    logout_user()
    session.clear()
    return redirect("/login")


def _login_page(nxt: str, error: str) -> str:
    err = f'<p class="err" role="alert">{escape(error)}</p>' if error else ""
    body = f"""{err}<form method="post" action="/login" autocomplete="on">
<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">
<input type="hidden" name="next" value="{escape(_safe_next(nxt))}">
<label for="u">用户名</label><input id="u" name="username" autocomplete="username" required autofocus maxlength="64">
<label for="p">密码</label><input id="p" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">登录</button></form>
<p class="note">账户由数据管理员用 <code>wagemap users add</code> 创建；忘记密码请联系管理员重设。</p>"""
    return _page("登录", body)


def _page(title: str, body: str) -> str:
    from geodata.townships import CITY_NAME

    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>{escape(title)} · 根治欠薪一张图</title>
<style>body{{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif;background:#f3f5f8;margin:0;
display:flex;min-height:100vh;align-items:center;justify-content:center}}main{{background:#fff;padding:28px 32px;
border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.12);width:min(360px,90vw)}}h1{{font-size:20px;margin:0 0 4px}}
.city{{color:#555;margin:0 0 18px}}label{{display:block;margin:12px 0 4px}}input{{width:100%;box-sizing:border-box;
padding:8px;font-size:16px;border:1px solid #bbb;border-radius:4px}}button{{margin-top:18px;width:100%;padding:10px;
font-size:16px;background:#1f5fa8;color:#fff;border:0;border-radius:4px;cursor:pointer}}.err{{color:#b00020}}
.note{{color:#666;font-size:12px;margin-top:16px}}</style></head><body><main>
<h1>{escape(title)}</h1><p class="city">{escape(CITY_NAME)} · 根治欠薪一张图</p>{body}</main></body></html>"""


def user_box():
    """Header widget: who is signed in, their role, and a logout button (a plain POST form)."""
    from dash import html

    u = access.current_user()
    if not u.authenticated:
        return None
    return html.Form(action="/logout", method="POST", className="user-box", children=[
        html.Span(u.name, className="user-name"),
        html.Span(ROLE_ZH.get(u.role, u.role), className="user-role"),
        html.Input(type="hidden", name="csrf_token", value=csrf_token(), readOnly=True),
        html.Button("退出", type="submit", className="button small"),
    ])


# ---- the gate -------------------------------------------------------------------------------


def _gate(app):
    """before_request: sign-in for everything but /login; role checks for callbacks and downloads."""

    def gate() -> Any:
        path = request.path
        if path in access.PUBLIC_PATHS:
            return None
        user = access.current_user()
        if not user.authenticated:
            return _unauthenticated(path)
        if path.endswith("/_dash-update-component"):
            return _check_callback(app, user)
        if _is_dash_route(app, path):
            return None
        if not access.allowed(access.route_roles(path), user):
            access.audit("denied", path)
            return _text("无权访问：您的角色不能使用此功能。", 403)
        return None

    return gate


def _unauthenticated(path: str) -> Response:
    wants_html = request.method == "GET" and "text/html" in request.headers.get("Accept", "") and not path.startswith("/_dash")
    if wants_html:
        target = request.full_path if request.query_string else path
        return redirect("/login?next=" + _quote(_safe_next(target)))
    return _text("未登录或登录已过期，请刷新页面重新登录。", 401)


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="/")


def _text(msg: str, code: int) -> Response:
    return Response(msg, status=code, content_type="text/plain; charset=utf-8")


def _is_dash_route(app, path: str) -> bool:
    """The Dash shell: index and page paths, layout, dependencies, component suites, assets."""
    if path.startswith(access.SHELL_PREFIXES):
        return True
    rule = request.url_rule
    if rule is None:
        return True  # 404 from Flask
    dash_routes = set(getattr(app, "routes", ()))
    return rule.rule in dash_routes or rule.endpoint in dash_routes


def callback_module(app, output: str) -> str | None:
    """The module that registered the callback for `output` (from the app's own callback map)."""
    cb = app.callback_map.get(output)
    if cb is None:
        return None
    fn = cb.get("callback")
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(fn, "__module__", None)


def callback_roles(app, output: str) -> frozenset[str]:
    """Roles that may run the callback: the page's roles for a page module, else every role."""
    import dash

    mod = callback_module(app, output)
    if mod is None:
        return frozenset()  # unknown callback: Dash would refuse it anyway
    if mod in dash.page_registry or mod.split(".")[-2:-1] == ["pages"]:
        return access.page_roles(mod)
    return access.ALL


def _check_callback(app, user: access.User) -> Response | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return _text("请求格式错误", 400)
    output = body["output"]
    if output not in app.callback_map:
        return _text("请求格式错误", 400)
    if user.role not in callback_roles(app, output):
        access.audit("denied", f"callback {callback_module(app, output)}", output)
        return _text("无权访问：您的角色不能使用此功能。", 403)
    return None


# ---- page guards and audit ------------------------------------------------------------------


def _guard_pages() -> None:
    """Wrap every registered page layout with its role check and the case/person view audit."""
    import dash

    for module, page in dash.page_registry.items():
        layout = page.get("layout")
        if getattr(layout, "_wagemap_guarded", False):
            continue
        page["layout"] = _guarded(module, layout)


def _guarded(module: str, layout: Any):
    def guarded(**kwargs: Any) -> Any:
        name = module.rsplit(".", 1)[-1]
        if not access.can_use_page(module):
            access.audit("denied", f"page {name}", _kv(kwargs))
            return _denied_layout()
        if name in access.AUDITED_PAGES:
            keys = {k: v for k, v in kwargs.items() if isinstance(v, str) and v}
            if keys:
                access.audit(access.AUDITED_PAGES[name], ",".join(keys.values()), _kv(kwargs))
        return layout(**kwargs) if callable(layout) else layout

    guarded._wagemap_guarded = True  # type: ignore[attr-defined]
    guarded.__wrapped__ = layout  # type: ignore[attr-defined]
    return guarded


def _kv(kwargs: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in kwargs.items() if isinstance(v, (str, int, float)))[:500]


def _denied_layout():
    from dash import dcc, html

    return html.Div(className="page", children=[
        html.Div(className="notice", role="alert", children=[
            html.H2("无权访问"), html.P("您的角色不能查看此页面。如需权限，请联系数据管理员。"),
            dcc.Link("返回首页", href="/"),
        ]),
    ])


def _audit_exports(resp: Response) -> Response:
    """Audit every successful download/export (the route, its arguments, the row count if given)."""
    path = request.path
    if resp.status_code == 200 and path.startswith(tuple(p for p in access.ROUTE_ROLES)):
        access.audit("export", path, request.query_string.decode("utf-8", "replace")[:500])
    return resp
