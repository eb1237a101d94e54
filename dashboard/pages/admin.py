"""系统管理 /admin: the audit log reader and the accounts list (admin role only).

Accounts are changed with `wagemap users add/disable/reset` (passwords never travel through a
web form here); this page only reads. Every value is rendered as text.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import dash
import sqlalchemy as sa
from dash import Input, Output, callback, dcc, html

from dashboard import access, components
from dashboard.users import ROLE_ZH, list_accounts
from geodata import schema
from geodata.townships import BY_CODE

dash.register_page(__name__, path="/admin", name="系统管理", title="系统管理 · 根治欠薪一张图")

MAX_ROWS = 500
ACTION_ZH = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出", "export": "导出", "load": "数据载入",
    "view_case": "查看案件", "view_person": "查看单位/人员", "view_project": "查看项目", "denied": "越权访问被拒",
    "user_add": "新增用户", "user_disable": "停用用户", "user_enable": "启用用户", "user_reset": "重设密码",
    "view_audit": "查看审计日志", "view_contacts": "查看联系人", "import_gazetteer": "导入地名库",
}
DAYS = [(1, "1天"), (7, "7天"), (30, "30天"), (365, "1年"), (0, "全部")]


def layout(**_):
    if not access.allowed({"admin"}):
        return html.Div("无权访问", className="notice")
    filters = [
        components.filter_group("操作", dcc.Dropdown(id="adm-action", options=[{"label": f"{v}（{k}）", "value": k}
                                                                             for k, v in ACTION_ZH.items()],
                                                   multi=True, placeholder="全部操作")),
        components.filter_group("用户", dcc.Input(id="adm-user", type="search", debounce=True, maxLength=64,
                                                  placeholder="用户名（包含）")),
        components.filter_group("对象", dcc.Input(id="adm-target", type="search", debounce=True, maxLength=100,
                                                  placeholder="案件编号、项目编号、文件…")),
        components.filter_group("时间范围", dcc.RadioItems(id="adm-days", value=7, options=[
            {"label": lbl, "value": d} for d, lbl in DAYS])),
    ]
    note = f"最新在前，最多显示 {MAX_ROWS} 条；身份证号、电话在日志中均已脱敏。"
    main = components.card("审计日志", html.Div(id="adm-log"), html.Small(note, className="muted small"))
    details = components.card("用户", _users_table(),
                              html.P(["新增、停用、重设密码请用命令行：", html.Code("wagemap users add|disable|reset 用户名")],
                                     className="muted small"))
    return components.page("系统管理", [("全市总览", "/"), ("系统管理", None)], filters=filters, main=main, details=details)


def _users_table() -> html.Table:
    store = access.bound_store()
    now = datetime.now()
    rows = []
    for a in list_accounts(store):
        if a.disabled:
            status = "已停用"
        elif a.locked_until is not None and a.locked_until > now:
            status = f"锁定至 {a.locked_until:%H:%M}"
        else:
            status = "正常"
        tw = BY_CODE[a.township_code].name if a.township_code in BY_CODE else "全市"
        rows.append(html.Tr([html.Td(a.name), html.Td(ROLE_ZH.get(a.role, a.role)), html.Td(tw), html.Td(status),
                             html.Td("演示" if a.is_demo else "")]))
    head = html.Thead(html.Tr([html.Th(h) for h in ("用户名", "角色", "范围", "状态", "")]))
    return html.Table([head, html.Tbody(rows)], className="checklist")


def query_audit(store, actions=None, user: str | None = None, target: str | None = None, days: int | None = 7,
                limit: int = MAX_ROWS):
    """Audit rows, newest first; every filter is a bound parameter (LIKE with escaping)."""
    a = schema.audit_log
    q = sa.select(a.c.at, a.c.user_name, a.c.action, a.c.target, a.c.detail).order_by(a.c.at.desc(), a.c.id.desc())
    if actions:
        q = q.where(a.c.action.in_([str(x) for x in actions]))
    if user:
        q = q.where(a.c.user_name.contains(str(user)[:64], autoescape=True))
    if target:
        q = q.where(a.c.target.contains(str(target)[:100], autoescape=True))
    if days:
        q = q.where(a.c.at >= datetime.now() - timedelta(days=int(days)))
    with store.begin() as conn:
        return conn.execute(q.limit(int(limit))).all()


@callback(Output("adm-log", "children"), Input("adm-action", "value"), Input("adm-user", "value"),
          Input("adm-target", "value"), Input("adm-days", "value"))
@access.require("admin")
def show_log(actions, user, target, days):
    try:
        days = int(days or 0)
    except (TypeError, ValueError):
        days = 7
    actions = actions if isinstance(actions, list) else ([actions] if actions else None)
    rows = query_audit(access.bound_store(), actions, user, target, days)
    access.audit("view_audit", "", f"actions={actions or ''} user={user or ''} target={target or ''} days={days}")
    if not rows:
        return html.P("没有符合条件的记录。", className="muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("时间", "用户", "操作", "对象", "详情")]))
    body = [html.Tr([html.Td(f"{r.at:%Y-%m-%d %H:%M:%S}" if r.at else "—"), html.Td(r.user_name or ""),
                     html.Td(ACTION_ZH.get(r.action, r.action or "")), html.Td(r.target or ""), html.Td(r.detail or "")])
            for r in rows]
    return html.Table([head, html.Tbody(body)], className="checklist")
