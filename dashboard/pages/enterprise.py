"""单位 `/enterprise/<credit_code>`: the employer's facts, its projects and their gaps, cases, deposits, credit, location.

Projects are those it is the general contractor of; the checklist of each project is on the
project page. (十三)(十四) credit grade and blacklist records come with their source rows.
"""

from __future__ import annotations

from urllib.parse import quote

import dash
from dash import html

from dashboard import access, components, detail, services

dash.register_page(__name__, path_template="/enterprise/<credit_code>", name="单位", order=3,
                   title=lambda credit_code=None, **_: "单位 · 根治欠薪一张图")


@components.safe_layout
def layout(credit_code: str | None = None, **kw: str) -> html.Div:
    scope = access.current_scope()
    frm, to = services.month_window(scope, kw.get("from"), kw.get("to"))
    view = services.enterprise_view(scope, credit_code or "", to, mask_pii=not access.can_see_personal_data())
    back = f"/?from={frm}&to={to}"
    if view is None:
        return components.page("单位", [("全市总览", back), ("未找到", None)],
                               main=components.not_found("单位", credit_code or ""), wide=True)
    e = view["enterprise"]
    town = e.get("township_code") or ""
    crumbs = [("全市总览", back)]
    if town:
        crumbs.append((view["township"], f"/township/{quote(town, safe='')}?from={frm}&to={to}"))
    crumbs.append((components.text(e.get("name")), None))
    facts = components.card("单位信息", detail.facts([
        ("统一社会信用代码", e.get("credit_code")), ("单位名称", e.get("name")), ("行业", e.get("industry")),
        ("地址", e.get("address")), ("所属乡镇", view["township"]), ("职工人数", components.people(e.get("employees"))),
        ("农民工人数", components.people(e.get("migrant_workers"))), ("来源", view["provenance"]),
    ]))
    contacts = components.card("联系人", detail.facts([("法定代表人", e.get("legal_rep")), ("联系电话", e.get("phone"))]))
    gaps = sum(1 for r in view["projects"] if r.get("缺失机制") not in (None, "—"))
    main = components.card(
        None,
        html.Div(className="toolbar", children=[
            html.H2("承建项目", className="card-title"),
            html.Span(f"{len(view['projects'])}个项目，{gaps}个存在机制缺失", className="badge warn" if gaps else "badge muted"),
        ]),
        components.grid("en-projects", view["projects"], view["project_columns"], link_col="项目名称", height=300),
    )
    side = [detail.location_card(scope, e)] if view["known"] else []
    side.append(components.card("诚信等级与黑名单", detail.table(view["credit"], [
        ("year", "年度", None), ("grade", "等级", None), ("blacklisted", "黑名单", None),
        ("listed_date", "列入日期", components.date_zh), ("delisted_date", "移出日期", components.date_zh),
        ("reason", "原因", None), ("provenance", "来源", None),
    ])))
    details = [
        components.card("欠薪案件", components.grid("en-cases", view["cases"], view["case_columns"], link_col=None,
                                                height=260)),
        components.card("工资保证金（按单位缴存）", detail.table(view["deposits"], [
            ("paid_date", "缴存日期", components.date_zh), ("amount", "金额", components.wan), ("form", "形式", None),
            ("status", "状态", None), ("reason", "减免/动用原因", None), ("provenance", "来源", None),
        ])),
    ]
    return components.page(components.text(e.get("name")), crumbs, filters=[facts, contacts], main=main, side=side,
                           details=details)
