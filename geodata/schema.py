"""One schema for every data kind (DESIGN §4), shared by the PostGIS and GeoPackage backends.

Each column of a data kind carries in `info`:
  zh       the canonical Chinese header offices use (what `wagemap demo` writes),
  aliases  other headers seen in office spreadsheets (the ETL's alias table reads these),
  unit     for money: "万元" (values are stored in 万元),
  required True when a row without it is rejected.
Every data table also has the provenance and placement columns added by `_data_table`.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry

metadata = sa.MetaData()


def col(name: str, type_: sa.types.TypeEngine, zh: str, *aliases: str, required: bool = False, unit: str | None = None,
        pii: str | None = None, **kw) -> sa.Column:
    """A data column with its Chinese header, header aliases and rules in `info`."""
    info = {"zh": zh, "aliases": list(aliases), "required": required}
    if unit:
        info["unit"] = unit
    if pii:
        info["pii"] = pii  # "id" | "phone" | "name": masked for roles that do not need it
    return sa.Column(name, type_, info=info, **kw)


S = sa.String
F = sa.Float
I = sa.Integer  # noqa: E741 - short column-type aliases keep the table definitions readable
D = sa.Date
B = sa.Boolean

# ---- provenance / placement columns shared by every data table ------------------------------

def _provenance() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("township_code", S(12), index=True),  # the unit the row belongs to (scope key)
        sa.Column("batch_id", sa.Integer, index=True),  # load_batches.id that last changed the row
        sa.Column("source_file", S),
        sa.Column("source_row", I),  # 1-based row number in the source sheet (header = its own row)
        sa.Column("row_hash", S(32)),  # hash of the normalised values: a reload of the same row changes nothing
    ]


def _placement() -> list[sa.Column]:
    return [
        sa.Column("declared_township", S(12)),  # what the file said (code), may differ from township_code
        sa.Column("township_mismatch", B, default=False),
        sa.Column("geocode_method", S(16)),  # coord | coord_swapped | gazetteer | gazetteer_fuzzy | township | none
        sa.Column("geocode_confidence", F),
        sa.Column("lon", F),
        sa.Column("lat", F),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=True)),
    ]


def _data_table(name: str, key: list[str], *columns: sa.Column, spatial: bool = False) -> sa.Table:
    cols = _provenance() + list(columns) + (_placement() if spatial else [])
    t = sa.Table(name, metadata, *cols, sa.UniqueConstraint(*key, name=f"uq_{name}_key"), info={"key": key, "spatial": spatial})
    return t


TOWNSHIP_FIELD = ("township", "所属乡镇", "乡镇", "乡镇（街道）", "所在乡镇", "乡镇街道", "属地", "辖区", "所属街道")
ADDRESS_FIELD = ("address", "地址", "详细地址", "单位地址", "所在地址")
LON_FIELD = ("lon", "经度", "longitude", "lng", "X坐标", "东经")
LAT_FIELD = ("lat", "纬度", "latitude", "Y坐标", "北纬")

enterprises = _data_table(
    "enterprises", ["credit_code"],
    col("credit_code", S(18), "统一社会信用代码", "信用代码", "社会信用代码", "credit_code", "组织机构代码", required=True),
    col("name", S, "单位名称", "企业名称", "用人单位", "用人单位名称", "name", required=True),
    col("industry", S, "行业", "所属行业", "行业类别", "industry"),
    col("address", S, *ADDRESS_FIELD[1:2], *ADDRESS_FIELD[2:], "address"),
    col("township_name", S, "所属乡镇", *TOWNSHIP_FIELD[2:], "township"),
    col("legal_rep", S, "法定代表人", "法人", "法人代表", "legal_rep", pii="name"),
    col("phone", S, "联系电话", "电话", "手机", "phone", pii="phone"),
    col("employees", I, "职工人数", "从业人数", "员工人数", "employees"),
    col("migrant_workers", I, "农民工人数", "农民工数", "migrant_workers"),
    spatial=True,
)

projects = _data_table(
    "projects", ["project_code"],
    col("project_code", S, "项目编号", "项目代码", "工程编号", "project_code", required=True),
    col("name", S, "项目名称", "工程名称", "name", required=True),
    col("category", S, "工程类别", "项目类别", "类别", "category"),
    col("funding", S, "投资性质", "资金来源", "funding"),
    col("builder", S, "建设单位", "builder"),
    col("contractor", S, "施工总承包单位", "施工单位", "总承包单位", "contractor"),
    col("contractor_credit_code", S(18), "施工单位信用代码", "总包统一社会信用代码", "contractor_credit_code"),
    col("contractor_phone", S, "施工单位联系电话", "总包联系电话", "contractor_phone", pii="phone"),
    col("address", S, "建设地点", "项目地址", "工程地址", "地址", "address"),
    col("township_name", S, "所属乡镇", *TOWNSHIP_FIELD[2:], "township"),
    col("contract_value", F, "合同价款(万元)", "合同价款", "合同金额", "中标价", "contract_value", unit="万元"),
    col("start_date", D, "开工日期", "开工时间", "start_date"),
    col("status", S, "项目状态", "状态", "施工状态", "status"),
    col("filed_date", D, "用工备案日期", "备案日期", "filed_date"),
    col("labour_officer", S, "劳资专管员", "劳资员", "labour_officer", pii="name"),
    col("labour_officer_phone", S, "劳资专管员电话", "专管员电话", "labour_officer_phone", pii="phone"),
    col("notice_board", B, "维权公示牌", "公示牌", "notice_board"),
    col("special_account", B, "农民工工资专户", "工资专户", "专户", "special_account"),
    col("special_account_bank", S, "专户开户银行", "开户银行", "special_account_bank"),
    col("special_account_opened", D, "专户开户日期", "开户日期", "special_account_opened"),
    col("special_account_filed", D, "专户备案日期", "special_account_filed"),
    col("bank_payroll", B, "银行代发", "银行代发工资", "bank_payroll"),
    col("payment_guarantee", B, "工程款支付担保", "支付担保", "payment_guarantee"),
    spatial=True,
)

compliance = _data_table(
    "compliance", ["project_code", "month"],
    col("project_code", S, "项目编号", "项目代码", "工程编号", "project_code", required=True),
    col("month", S(7), "月份", "所属月份", "统计月份", "month", required=True),  # YYYY-MM
    col("workers_onsite", I, "在场人数", "在岗人数", "进场人数", "workers_onsite"),
    col("workers_registered", I, "实名登记人数", "实名制登记人数", "workers_registered"),
    col("cards_issued", I, "一卡通发放数", "工作信息卡发放数", "发卡数", "cards_issued"),
    col("wages_due", F, "应发工资(万元)", "应发工资", "wages_due", unit="万元"),
    col("wages_paid_bank", F, "银行代发金额(万元)", "银行代发金额", "代发金额", "wages_paid_bank", unit="万元"),
    col("account_funded", F, "专户拨付人工费(万元)", "专户拨付", "人工费拨付", "account_funded", unit="万元"),
    col("paid_through_month", S(7), "工资发放至", "工资支付至", "paid_through_month"),
)

deposits = _data_table(
    "deposits", ["deposit_key"],
    sa.Column("deposit_key", S, info={"zh": "", "aliases": [], "required": False, "derived": True}),
    col("project_code", S, "项目编号", "项目代码", "project_code"),
    col("credit_code", S(18), "统一社会信用代码", "信用代码", "credit_code"),
    col("paid_date", D, "缴存日期", "日期", "paid_date", required=True),
    col("amount", F, "缴存金额(万元)", "保证金金额", "金额", "amount", unit="万元"),
    col("rate", F, "缴存比例", "比例", "rate"),
    col("form", S, "缴存形式", "形式", "form"),
    col("status", S, "保证金状态", "状态", "status"),
    col("reason", S, "减免/动用原因", "原因", "reason"),
    col("no_arrears_cert", B, "无拖欠证明", "no_arrears_cert"),
)

cases = _data_table(
    "cases", ["case_no"],
    col("case_no", S, "案件编号", "线索编号", "编号", "case_no", required=True),
    col("received_date", D, "受理日期", "接收日期", "登记日期", "received_date", required=True),
    col("source", S, "案件来源", "来源", "线索来源", "source"),
    col("project_code", S, "项目编号", "project_code"),
    col("credit_code", S(18), "统一社会信用代码", "信用代码", "credit_code"),
    col("employer_name", S, "被投诉单位", "欠薪单位", "用人单位", "employer_name"),
    col("address", S, "地址", "发生地点", "address"),
    col("township_name", S, "所属乡镇", *TOWNSHIP_FIELD[2:], "township"),
    col("workers", I, "涉及人数", "涉及农民工人数", "人数", "workers"),
    col("amount", F, "欠薪金额(万元)", "欠薪金额", "涉及金额", "amount", unit="万元"),
    col("status", S, "办理状态", "状态", "status"),
    col("closed_date", D, "结案日期", "closed_date"),
    col("recovered", F, "追回金额(万元)", "追回金额", "recovered", unit="万元"),
    col("advanced", F, "垫付金额(万元)", "垫付金额", "advanced", unit="万元"),
    col("advance_source", S, "垫付资金来源", "advance_source"),
    col("description", S, "案情简介", "情况描述", "description"),
    col("complainant", S, "投诉人", "举报人", "complainant", pii="name"),
    col("complainant_id", S, "投诉人身份证号", "身份证号", "complainant_id", pii="id"),
    col("complainant_phone", S, "投诉人电话", "联系电话", "complainant_phone", pii="phone"),
    spatial=True,
)

incidents = _data_table(
    "incidents", ["incident_no"],
    col("incident_no", S, "事件编号", "编号", "incident_no", required=True),
    col("occurred_at", sa.DateTime, "发生时间", "时间", "occurred_at", required=True),
    col("address", S, "发生地点", "地址", "address"),
    col("township_name", S, "所属乡镇", *TOWNSHIP_FIELD[2:], "township"),
    col("headcount", I, "聚集人数", "涉及人数", "人数", "headcount"),
    col("grade", S, "事件等级", "分级", "等级", "grade"),
    col("project_code", S, "项目编号", "project_code"),
    col("status", S, "处置状态", "状态", "status"),
    col("responding_units", S, "处置单位", "响应单位", "responding_units"),
    col("description", S, "事件简述", "情况描述", "description"),
    spatial=True,
)

funds = _data_table(
    "funds", ["unit_code", "year"],
    col("unit_code", S(12), "单位代码", "区划代码", "单位", "unit_code", required=True),
    col("year", I, "年度", "年份", "year", required=True),
    col("budgeted", F, "预算安排(万元)", "预算金额", "budgeted", unit="万元"),
    col("balance", F, "余额(万元)", "余额", "balance", unit="万元"),
    col("used", F, "动用金额(万元)", "动用", "used", unit="万元"),
    col("replenished", F, "补足金额(万元)", "补足", "replenished", unit="万元"),
)

indicators = _data_table(
    "indicators", ["credit_code", "month"],
    col("credit_code", S(18), "统一社会信用代码", "信用代码", "credit_code", required=True),
    col("month", S(7), "月份", "所属月份", "month", required=True),
    col("tax_paid", F, "纳税额(万元)", "纳税", "税额", "tax_paid", unit="万元"),
    col("electricity_kwh", F, "用电量(千瓦时)", "用电量", "electricity_kwh"),
    col("water_m3", F, "用水量(立方米)", "用水量", "water_m3"),
    col("social_insurance_headcount", I, "参保人数", "社保人数", "social_insurance_headcount"),
    col("bank_inflow", F, "银行流水(万元)", "资金流入", "bank_inflow", unit="万元"),
)

credit = _data_table(
    "credit", ["credit_code", "year"],
    col("credit_code", S(18), "统一社会信用代码", "信用代码", "credit_code", required=True),
    col("year", I, "年度", "年份", "year", required=True),
    col("grade", S(1), "诚信等级", "信用等级", "等级", "grade"),
    col("blacklisted", B, "黑名单", "是否黑名单", "列入黑名单", "blacklisted"),
    col("listed_date", D, "列入日期", "listed_date"),
    col("delisted_date", D, "移出日期", "delisted_date"),
    col("reason", S, "列入原因", "原因", "reason"),
)

DATA_TABLES: dict[str, sa.Table] = {
    t.name: t for t in (enterprises, projects, compliance, deposits, cases, incidents, funds, indicators, credit)
}
KIND_ZH = {
    "enterprises": "用人单位", "projects": "工程项目", "compliance": "月度实名制/工资", "deposits": "工资保证金",
    "cases": "欠薪案件", "incidents": "欠薪突发事件", "funds": "应急周转金", "indicators": "预警指标",
    "credit": "诚信等级/黑名单",
}

# ---- geography and system tables -----------------------------------------------------------

townships = sa.Table(
    "townships", metadata,
    sa.Column("code", S(12), primary_key=True),
    sa.Column("name", S, nullable=False),
    sa.Column("kind", S),
    sa.Column("aliases", S),  # ";"-joined
    sa.Column("is_demo", B, nullable=False, default=True),  # True: 示意边界
    sa.Column("area_km2", F),
    sa.Column("lon", F),  # label / fallback point
    sa.Column("lat", F),
    sa.Column("source", S),
    sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=True)),
)

gazetteer = sa.Table(
    "gazetteer", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", S),  # official village/community code when known
    sa.Column("name", S, nullable=False),
    sa.Column("township_code", S(12), index=True),
    sa.Column("kind", S),  # 村 | 社区 | 地名
    sa.Column("aliases", S),
    sa.Column("lon", F),
    sa.Column("lat", F),
    sa.Column("source", S),
)

load_batches = sa.Table(
    "load_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", S),
    sa.Column("source_file", S),
    sa.Column("loaded_at", sa.DateTime),
    sa.Column("user_name", S),
    sa.Column("rows_read", I),
    sa.Column("rows_loaded", I),
    sa.Column("rows_rejected", I),
    sa.Column("report", sa.Text),  # JSON
)

rejected_rows = sa.Table(
    "rejected_rows", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, index=True),
    sa.Column("kind", S),
    sa.Column("source_file", S),
    sa.Column("source_row", I),
    sa.Column("reason", S),  # Chinese, for the clerk
    sa.Column("reason_code", S),
    sa.Column("row_json", sa.Text),  # the source row kept whole
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", S, unique=True, nullable=False),
    sa.Column("role", S, nullable=False),  # leader | township | emergency | assessor | admin
    sa.Column("township_code", S(12)),
    sa.Column("password_hash", S, nullable=False),
    sa.Column("disabled", B, nullable=False, default=False),
    sa.Column("failed_logins", I, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("is_demo", B, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, index=True),
    sa.Column("user_name", S),
    sa.Column("action", S),  # login | login_failed | export | load | view_case | view_person | ...
    sa.Column("target", S),
    sa.Column("detail", sa.Text),
)

incident_responses = sa.Table(
    "incident_responses", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_no", S, index=True),
    sa.Column("township_code", S(12), index=True),
    sa.Column("step", S),
    sa.Column("done_at", sa.DateTime),
    sa.Column("user_name", S),
    sa.Column("note", S),
)

store_meta = sa.Table(
    "store_meta", metadata,
    sa.Column("key", S, primary_key=True),
    sa.Column("value", S),
)

SCOPED_TABLES = [*DATA_TABLES.values(), incident_responses]


def data_columns(kind: str) -> list[sa.Column]:
    """The columns of a kind that come from the input file (those with a Chinese header)."""
    return [c for c in DATA_TABLES[kind].columns if c.info.get("zh")]
