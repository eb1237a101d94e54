"""The Dash app factory: pages, assets, the global Chinese error display, download routes.

    from dashboard.app import create_app
    app = create_app()                 # store and settings from the environment
    app.run(host="127.0.0.1", port=8050)

Pages live in dashboard/pages (each registers itself and owns its callbacks); data comes only
through dashboard/services.py. One app per process: Dash hands `@dash.callback` registrations
to the first app created.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import Path

import dash
from dash import dcc, html, set_props
from flask import request
from werkzeug.exceptions import HTTPException

from dashboard import components, downloads, services
from geodata.settings import Settings, get_settings
from geodata.store import Store, open_store

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"
PAGES = HERE / "pages"
# plotly.js with only the trace types the pages draw and MapLibre holding a map's first paint until it
# is complete (assets/vendor/plotly/README.md). dcc.Graph uses window.Plotly when it is defined, so the
# full plotly.min.js (4.8 MB) is never loaded.
PLOTLY_BUNDLE = "vendor/plotly/plotly-wagemap.min.js"

_INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
{%metas%}
<title>{%title%}</title>
<link rel="icon" type="image/svg+xml" href="/assets/favicon.svg">
{%css%}
</head>
<body>
{%app_entry%}
<footer>{%config%}{%scripts%}<script src="__PLOTLY__"></script>{%renderer%}</footer>
</body>
</html>"""


def create_app(store: Store | None = None, settings: Settings | None = None) -> dash.Dash:
    """Build the dashboard for `store` (default: the settings' database) and `settings`."""
    settings = settings or get_settings()
    store = store or open_store(settings.db)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ASSETS),
        assets_path_ignore=["vendor"],  # leaflet is for the folium export, not the pages
        serve_locally=True,
        suppress_callback_exceptions=True,  # pages add their components after the first render
        title=f"{components.APP_NAME}",
        update_title=None,
        on_error=_on_error,
        compress=True,  # flask-compress: gzip/br/zstd for layouts, callback responses and bundles
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.index_string = _INDEX.replace("__PLOTLY__", _plotly_url(app))
    services.attach(app.server, store, settings)
    downloads.register(app.server)
    app.server.register_error_handler(Exception, _http_error)
    app.layout = _shell
    _install_auth(app, store, settings)
    app.clientside_callback(
        "function(n){ return n ? true : window.dash_clientside.no_update; }",
        dash.Output("global-error", "hidden", allow_duplicate=True),
        dash.Input("global-error-close", "n_clicks"),
        prevent_initial_call=True,
    )
    return app


def _plotly_url(app: dash.Dash) -> str:
    """The plotly bundle's URL, versioned by its content: the browser keeps it for a year without asking
    again (a rebuilt bundle has a new URL). After app.js, which registers the Chinese locale for plotly."""
    digest = hashlib.sha256((ASSETS / PLOTLY_BUNDLE).read_bytes()).hexdigest()[:16]
    path = "/assets/" + PLOTLY_BUNDLE

    @app.server.after_request
    def _cache_forever(resp):
        if request.path == path and request.args.get("v") == digest and resp.status_code in (200, 304):
            resp.cache_control.no_cache = None
            resp.cache_control.max_age = 31536000
            resp.cache_control.immutable = True
        return resp

    return app.get_asset_url(PLOTLY_BUNDLE) + "?v=" + digest


def _install_auth(app: dash.Dash, store: Store, settings: Settings) -> None:
    """Login, role checks, security headers (dashboard/auth.py), after pages and downloads exist."""
    from dashboard.auth import init_auth

    init_auth(app, store, settings)


def _shell() -> html.Div:
    """What every page sits in: the global error display and the page container."""
    return html.Div([
        html.Div(id="global-error", className="global-error", role="alert", hidden=True, children=[
            html.Span(id="global-error-text"),
            html.Button("关闭", id="global-error-close", className="button small", n_clicks=0),
        ]),
        dcc.Store(id="nav-sink"),
        dash.page_container,
    ], className="app")


def _on_error(err: Exception) -> None:
    """Every callback's uncaught exception ends here: log it, show one Chinese message."""
    ref = uuid.uuid4().hex[:8]
    log.error("callback error %s", ref, exc_info=err)
    set_props("global-error", {"hidden": False})
    set_props("global-error-text", {"children": f"{components.user_message(err)}（错误编号：{ref}）"})


def _http_error(err: Exception):
    """Flask-level errors (downloads, unknown routes): a short Chinese text, never a traceback."""
    if isinstance(err, HTTPException):
        msgs = {403: "无权访问", 404: "页面或文件不存在", 405: "不支持的请求方式"}
        return msgs.get(err.code or 500, "请求无法完成"), err.code or 500, {"Content-Type": "text/plain; charset=utf-8"}
    ref = uuid.uuid4().hex[:8]
    log.error("server error %s", ref, exc_info=err)
    return f"服务器出错（错误编号：{ref}）", 500, {"Content-Type": "text/plain; charset=utf-8"}
