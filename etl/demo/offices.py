"""Which office sends which file, in what format, with which headers, CRS and mess.

Each `FileSpec` is one file of the scenario. Headers are the schema's Chinese header
(geodata/schema.py Column.info["zh"]) or one of its aliases, chosen differently per office.
At province scale the big tables are csv (`big`); the rest keeps its city format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etl.demo.story import Scale

GEO_GOOD = {"coord": 0.88, "coord_swapped": 0.02, "gazetteer": 0.06, "township": 0.04}


@dataclass(frozen=True)
class FileSpec:
    """One file as an office sends it."""

    name: str  # without extension
    kind: str
    office: str
    title: str
    fmt: str  # xlsx | csv
    encoding: str | None  # csv: gbk | utf-8-sig | utf-8
    crs: str  # wgs84 | gcj02 | bd09 (the --crs to load it with)
    headers: dict[str, str]  # field -> header, in column order
    rules: dict = field(default_factory=dict)  # planted rejections: reason_code -> field (see mess.plant)
    geocode: dict[str, float] | None = None
    dates: dict[str, float] = field(default_factory=lambda: {"iso": 1.0})
    months: dict[str, float] = field(default_factory=lambda: {"iso": 1.0})
    bools: dict[str, float] = field(default_factory=lambda: {"是否": 1.0})
    yuan: bool = False  # money in 元 (its headers say 元)
    old_names: float = 0.0  # share of township names in old/variant forms
    mismatch: float = 0.0  # share of coordinate rows declaring another township
    full_width: dict[str, float] = field(default_factory=dict)
    spaces: dict[str, float] = field(default_factory=dict)
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # two-row header: group label over fields
    big: bool = False  # csv at province scale

    def file_name(self, scale: Scale) -> str:
        fmt, enc = self.layout(scale)
        return f"{self.name}.{fmt}"

    def layout(self, scale: Scale) -> tuple[str, str | None]:
        if self.fmt == "xlsx" and self.big and scale.big_as_csv:
            return "csv", "utf-8-sig"
        return self.fmt, self.encoding


ENTERPRISE_RULES = {"missing_required": "name", "bad_credit_code": "credit_code", "duplicate_key": "employees", "outside_city": True}

SPECS: tuple[FileSpec, ...] = (
    FileSpec(
        "01_市场监管局_用人单位名录", "enterprises", "市市场监管局", "新密市用人单位基本信息表", "xlsx", None, "wgs84",
        {"credit_code": "统一社会信用代码", "name": "单位名称", "industry": "所属行业", "address": "单位地址",
         "township_name": "所属乡镇", "legal_rep": "法定代表人", "phone": "联系电话", "employees": "职工人数",
         "migrant_workers": "农民工人数", "lon": "经度", "lat": "纬度"},
        ENTERPRISE_RULES, GEO_GOOD, old_names=0.12, mismatch=0.01,
        full_width={"credit_code": 0.01, "phone": 0.02, "employees": 0.01}, spaces={"name": 0.03, "credit_code": 0.01, "township_name": 0.02},
        big=True,
    ),
    FileSpec(
        "02_超化镇_辖区用工单位补充名单", "enterprises", "超化镇人民政府", "", "csv", "gbk", "gcj02",
        {"name": "企业名称", "credit_code": "社会信用代码", "industry": "行业类别", "township_name": "乡镇（街道）",
         "address": "详细地址", "legal_rep": "法人", "phone": "电话", "employees": "从业人数", "migrant_workers": "农民工数",
         "lon": "X坐标", "lat": "Y坐标"},
        ENTERPRISE_RULES, {"coord": 0.80, "coord_swapped": 0.03, "gazetteer": 0.12, "township": 0.05}, old_names=0.3,
        full_width={"credit_code": 0.02, "phone": 0.05}, spaces={"name": 0.05, "address": 0.05},
    ),
    FileSpec(
        "03_住建局_在建工程项目台账", "projects", "市住建局", "新密市房屋建筑和市政工程项目台账", "xlsx", None, "gcj02",
        {"project_code": "项目编号", "name": "项目名称", "category": "工程类别", "funding": "投资性质", "builder": "建设单位",
         "contractor": "施工总承包单位", "contractor_credit_code": "施工单位信用代码", "contractor_phone": "施工单位联系电话",
         "address": "建设地点", "township_name": "所属乡镇", "contract_value": "合同价款（万元）", "start_date": "开工日期",
         "status": "项目状态", "filed_date": "用工备案日期", "labour_officer": "劳资专管员", "labour_officer_phone": "劳资专管员电话",
         "notice_board": "维权公示牌", "special_account": "农民工工资专户", "special_account_bank": "专户开户银行",
         "special_account_opened": "专户开户日期", "special_account_filed": "专户备案日期", "bank_payroll": "银行代发",
         "payment_guarantee": "工程款支付担保", "lon": "经度", "lat": "纬度"},
        {"missing_required": "name", "duplicate_key": "contract_value", "outside_city": True, "negative_value": "contract_value"},
        {"coord": 0.93, "coord_swapped": 0.02, "gazetteer": 0.04, "township": 0.01},
        dates={"cell": 0.6, "iso": 0.2, "slash": 0.1, "cn": 0.1}, bools={"是否": 0.6, "有无": 0.3, "勾叉": 0.1}, old_names=0.1,
        full_width={"contract_value": 0.02, "project_code": 0.01, "start_date": 0.02}, spaces={"name": 0.03, "contractor": 0.03},
        big=True,
    ),
    FileSpec(
        "04_交通水务局_在建项目", "projects", "市交通运输局、市水务局", "交通、水务工程在建项目统计表", "xlsx", None, "wgs84",
        {"project_code": "工程编号", "name": "工程名称", "category": "项目类别", "funding": "资金来源", "builder": "建设单位",
         "contractor": "总承包单位", "contractor_credit_code": "总包统一社会信用代码", "contractor_phone": "总包联系电话",
         "address": "工程地址", "township_name": "乡镇", "contract_value": "合同金额(元)", "start_date": "开工时间",
         "status": "施工状态", "filed_date": "备案日期", "labour_officer": "劳资员", "labour_officer_phone": "专管员电话",
         "notice_board": "公示牌", "special_account": "是否开设", "special_account_bank": "开户银行",
         "special_account_opened": "开户日期", "special_account_filed": "专户备案日期", "bank_payroll": "银行代发工资",
         "payment_guarantee": "支付担保", "lon": "经度", "lat": "纬度"},
        {"missing_required": "name", "duplicate_key": "labour_officer_phone", "negative_value": "contract_value"},
        {"coord": 0.90, "coord_swapped": 0.02, "gazetteer": 0.06, "township": 0.02},
        dates={"serial": 0.5, "slash": 0.3, "cn": 0.2}, bools={"有无": 0.5, "勾叉": 0.5}, yuan=True, old_names=0.2,
        full_width={"contract_value": 0.02}, spaces={"township_name": 0.05},
        groups=(("农民工工资专户", ("special_account", "special_account_bank", "special_account_opened", "special_account_filed")),),
    ),
    FileSpec(
        "05_人社局_月度实名制工资台账", "compliance", "市人社局", "在建项目农民工实名制及工资支付月报", "xlsx", None, "wgs84",
        {"project_code": "项目编号", "month": "所属月份", "workers_onsite": "在场人数", "workers_registered": "实名登记人数",
         "cards_issued": "一卡通发放数", "wages_due": "应发工资(万元)", "wages_paid_bank": "银行代发金额(万元)",
         "account_funded": "专户拨付人工费(万元)", "paid_through_month": "工资发放至"},
        {"missing_required": "month", "duplicate_key": "workers_onsite", "negative_value": "wages_due"},
        months={"iso": 0.5, "cn": 0.2, "slash": 0.1, "cell": 0.2}, full_width={"workers_onsite": 0.01, "wages_due": 0.01},
        spaces={"project_code": 0.02}, big=True,
    ),
    FileSpec(
        "06_住建局_工资保证金缴存台账", "deposits", "市住建局", "", "csv", "gbk", "wgs84",
        {"project_code": "项目代码", "credit_code": "信用代码", "paid_date": "缴存日期", "amount": "保证金金额",
         "rate": "缴存比例", "form": "缴存形式", "status": "保证金状态", "reason": "减免/动用原因", "no_arrears_cert": "无拖欠证明"},
        {"missing_required": "paid_date", "duplicate_key": "amount", "negative_value": "amount"},
        dates={"slash": 0.6, "iso": 0.3, "cn": 0.1}, bools={"有无": 1.0}, full_width={"amount": 0.02, "paid_date": 0.02},
        spaces={"credit_code": 0.02},
    ),
    FileSpec(
        "07_人社局_欠薪案件台账", "cases", "市人社局劳动保障监察大队", "新密市欠薪案件（线索）办理台账", "xlsx", None, "wgs84",
        {"case_no": "案件编号", "received_date": "受理日期", "source": "案件来源", "project_code": "项目编号",
         "credit_code": "统一社会信用代码", "employer_name": "被投诉单位", "address": "地址", "township_name": "所属乡镇",
         "workers": "涉及农民工人数", "amount": "欠薪金额(万元)", "status": "办理状态", "closed_date": "结案日期",
         "recovered": "追回金额(万元)", "advanced": "垫付金额(万元)", "advance_source": "垫付资金来源", "description": "案情简介",
         "complainant": "投诉人", "complainant_id": "投诉人身份证号", "complainant_phone": "投诉人电话", "lon": "经度", "lat": "纬度"},
        {"missing_required": "received_date", "duplicate_key": "workers", "outside_city": True, "date_order": ("closed_date", "received_date"),
         "negative_value": "amount"},
        {"coord": 0.40, "coord_swapped": 0.02, "gazetteer": 0.50, "township": 0.08},
        dates={"cell": 0.5, "cn": 0.3, "serial": 0.2}, old_names=0.1, mismatch=0.01,
        full_width={"complainant_id": 0.02, "amount": 0.01, "case_no": 0.01}, spaces={"employer_name": 0.03, "address": 0.03},
        big=True,
    ),
    FileSpec(
        "08_12345热线_欠薪线索", "cases", "市12345政务服务便民热线", "", "csv", "utf-8-sig", "bd09",
        {"case_no": "线索编号", "received_date": "登记日期", "source": "来源", "project_code": "项目编号", "credit_code": "信用代码",
         "employer_name": "欠薪单位", "address": "发生地点", "township_name": "所在乡镇", "workers": "人数", "amount": "涉及金额(元)",
         "status": "状态", "closed_date": "结案日期", "description": "情况描述", "complainant": "举报人", "complainant_id": "身份证号",
         "complainant_phone": "联系电话", "lon": "lng", "lat": "lat"},
        {"missing_required": "received_date", "duplicate_key": "workers", "outside_city": True, "date_order": ("closed_date", "received_date"),
         "negative_value": "amount"},
        {"coord": 0.85, "coord_swapped": 0.01, "gazetteer": 0.10, "township": 0.04},
        dates={"iso": 0.8, "slash": 0.2}, yuan=True, old_names=0.05, full_width={"complainant_phone": 0.02},
        spaces={"address": 0.05, "employer_name": 0.02},
    ),
    FileSpec(
        "09_应急指挥中心_欠薪突发事件登记", "incidents", "市应急指挥中心", "欠薪引发群体性突发事件登记表", "xlsx", None, "wgs84",
        {"incident_no": "事件编号", "occurred_at": "发生时间", "address": "发生地点", "township_name": "所属乡镇",
         "headcount": "聚集人数", "grade": "事件等级", "project_code": "项目编号", "status": "处置状态",
         "responding_units": "处置单位", "description": "事件简述", "lon": "东经", "lat": "北纬"},
        {"missing_required": "occurred_at", "duplicate_key": "headcount", "outside_city": True},
        {"coord": 0.85, "coord_swapped": 0.05, "gazetteer": 0.10},
        dates={"cell": 0.4, "iso": 0.3, "slash": 0.15, "cn": 0.15}, old_names=0.2,
    ),
    FileSpec(
        "10_财政局_欠薪应急周转金", "funds", "市财政局", "欠薪应急周转金安排及使用情况表", "xlsx", None, "wgs84",
        {"unit_code": "区划代码", "year": "年度", "budgeted": "预算安排(万元)", "balance": "余额(万元)", "used": "动用金额(万元)",
         "replenished": "补足金额(万元)"},
        {"negative_value": "budgeted"},
    ),
    FileSpec(
        "11_税务供电供水_预警指标", "indicators", "市税务局、供电公司、供水公司（市人社局汇总）", "", "csv", "utf-8", "wgs84",
        {"credit_code": "信用代码", "month": "所属月份", "tax_paid": "纳税额(万元)", "electricity_kwh": "用电量(千瓦时)",
         "water_m3": "用水量(立方米)", "social_insurance_headcount": "参保人数", "bank_inflow": "银行流水(万元)"},
        {"missing_required": "month", "bad_credit_code": "credit_code", "duplicate_key": "tax_paid", "negative_value": "tax_paid"},
        months={"iso": 0.7, "compact": 0.3}, full_width={"credit_code": 0.005},
    ),
    FileSpec(
        "12_人社局_诚信等级及黑名单", "credit", "市人社局", "用人单位劳动保障诚信等级评价结果及拖欠工资黑名单", "xlsx", None, "wgs84",
        {"credit_code": "统一社会信用代码", "year": "年度", "grade": "诚信等级", "blacklisted": "是否黑名单",
         "listed_date": "列入日期", "delisted_date": "移出日期", "reason": "列入原因"},
        {"missing_required": "year", "bad_credit_code": "credit_code", "duplicate_key": "reason", "date_order": ("delisted_date", "listed_date")},
        dates={"cn": 0.5, "cell": 0.5}, bools={"是否": 0.7, "勾叉": 0.3}, spaces={"credit_code": 0.02}, big=True,
    ),
)
