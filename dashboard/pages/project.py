"""项目 `/project/<code>`: compliance checklist with evidence, cases, monthly reports, deposits, location, contacts.

Every checklist item names its evidence (dates, amounts, counts) and where it came from (source
file, row and load batch). Names and addresses from the data are rendered as text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
from dash import html

from dashboard import access, components, detail, services

dash.register_page(__name__, path_template="/project/<code>", name="项目", order=2,
                   title=lambda code=None, **_: "项目 · 根治欠薪一张图")



@components.safe_layout
def layout(code: str | None = None, **kw: str) -> html.Div:
    scope = access.current_scope()
    frm, to = services.month_window(scope, kw.get("from"), kw.get("to"))
    view = services.project_view(scope, code or "", to, mask_pii=not access.can_see_personal_data())
    back = f"/?from={frm}&to={to}" + (f"&ind={kw['ind']}" if kw.get("ind") else "")
    if view is None:
        return components.page("项目", [("全市总览", back), ("未找到", None)], main=components.not_found("项目", code or ""),
                               wide=True)
    p = view["project"]
    town = p.get("township_code") or ""
    crumbs = [("全市总览", back)]
    if town:
        crumbs.append((view["township"], f"/township/{quote(town, safe='')}?from={frm}&to={to}"))
    crumbs.append((components.text(p.get("name")), None))
    n_gap = sum(1 for c in view["checklist"] if c["state"] == "缺失")

    facts = components.card("项目信息", detail.facts([
        ("项目编号", p.get("project_code")), ("项目名称", p.get("name")), ("工程类别", p.get("category")),
        ("投资性质", p.get("funding")), ("建设单位", p.get("builder")),
        ("施工总承包单位", detail.enterprise_link(p.get("contractor"), p.get("contractor_credit_code"))),
        ("合同价款", components.wan(p.get("contract_value"))), ("开工日期", components.date_zh(p.get("start_date"))),
        ("项目状态", p.get("status")), ("所属乡镇", view["township"]), ("建设地点", p.get("address")),
        ("来源", view["provenance"]),
    ]))
    contacts = components.card("联系人", detail.facts([
        ("劳资专管员", p.get("labour_officer")), ("专管员电话", p.get("labour_officer_phone")),
        ("施工单位电话", p.get("contractor_phone")),
    ]), html.Small("手机号、姓名按角色脱敏显示", className="muted") if not access.can_see_personal_data() else None)
    checklist = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2("长效机制检查清单", className="card-title"),
            html.Span(f"缺失{n_gap}项", className="badge bad" if n_gap else "badge good"),
            html.Span(f"截至{components.month_zh(view['eval_month'])}" if view["eval_month"] else "", className="muted"),
        ]),
        _checklist(view),
    )
    location = detail.location_card(scope, p)
    details = [
        components.card("欠薪案件", components.grid("pj-cases", view["cases"], view["case_columns"], link_col=None,
                                                height=260)),
        components.card("月度实名制/工资报表（最近12个月）", detail.table(view["reports"], [
            ("month", "月份", components.month_zh), ("workers_onsite", "在场人数", components.people),
            ("workers_registered", "实名登记", components.people), ("cards_issued", "一卡通", components.people),
            ("wages_due", "应发工资", components.wan), ("wages_paid_bank", "银行代发", components.wan),
            ("paid_through_month", "工资发放至", components.month_zh), ("provenance", "来源", None),
        ])),
        components.card("工资保证金", detail.table(view["deposits"], [
            ("paid_date", "缴存日期", components.date_zh), ("amount", "金额", components.wan), ("rate", "比例", _rate),
            ("form", "形式", None), ("status", "状态", None), ("reason", "减免/动用原因", None), ("provenance", "来源", None),
        ])),
    ]
    return components.page(components.text(p.get("name")), crumbs, filters=[facts, contacts], main=checklist,
                           side=[location], details=details)


def _rate(v: Any) -> str:
    try:
        return f"{float(v) * 100:.1f}%"
    except (TypeError, ValueError):
        return "—"


STATE_CLASS = {"达标": "status-ok", "缺失": "status-gap", "不适用": "status-na"}


def _checklist(view: dict) -> html.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in ("机制", "条款", "情况", "缺失自", "依据", "数据来源")]))
    rows = [
        html.Tr([
            html.Td(html.Span(c["title"], title=c["rule"])), html.Td(c["clause"]),
            html.Td(c["state"], className=STATE_CLASS.get(c["state"], "")), html.Td(c["since"] or "—"),
            html.Td(c["evidence"]), html.Td(c["source"], className="muted small"),
        ])
        for c in view["checklist"]
    ]
    return html.Div(html.Table([head, html.Tbody(rows)], className="checklist"), className="table-scroll")
