"""Graded response checklist for a wage-arrears incident: who is notified, who goes, reporting up the levels.

(二十三) 欠薪引发的群体性突发事件实行分级响应和逐级报告; 对重大群体性突发事件，市公安局、
市人社局、市信访局、项目主管部门应第一时间赶到现场。(二十四) 及时动用应急周转金、工资保证金
先行垫付部分工资或基本生活费。Each grade adds steps to the one below. The minutes in `within`
are the project's reference deadlines (参考时限), not figures from the policy text.
Pure: records come in as a DataFrame (the store table incident_responses) and go out as dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

GRADES = ("一般", "较大", "重大", "特别重大")
GRADE_COLORS = {"一般": "#f2c200", "较大": "#f28c00", "重大": "#d62728", "特别重大": "#7f0000"}
STATUSES = ("处置中", "已平息", "已结束")
OPEN_STATUSES = ("处置中",)


@dataclass(frozen=True)
class Step:
    """One checklist item."""

    key: str
    text: str  # Chinese, what to do
    who: str  # Chinese, which unit does it
    phase: str  # 通知 | 到场 | 报告 | 处置
    within: int  # reference deadline, minutes after the incident
    grade: str  # lowest grade that needs it
    clause: str


_STEPS: tuple[Step, ...] = (
    Step("receive", "接报登记：时间、地点、人数、诉求、涉及项目与用人单位",
         "属地乡镇/街道/管委会值班室", "通知", 0, "一般", "(二十三)"),
    Step("notify_hrss", "通知市人社局劳动保障监察大队", "属地乡镇/街道/管委会", "通知", 15, "一般", "(二十三)"),
    Step("notify_contractor", "通知施工总承包单位负责人、劳资专管员到场",
         "属地乡镇/街道/管委会", "通知", 15, "一般", "(四)(二十三)"),
    Step("township_on_site", "属地负责人赶到现场，稳控情绪、登记诉求", "属地乡镇/街道/管委会", "到场", 30, "一般", "(三十二)"),
    Step("hrss_on_site", "劳动保障监察人员到场，核实欠薪人数、金额与责任主体", "市人社局", "到场", 60, "一般", "(二十三)"),
    Step("check_accounts", "调取工资专户、保证金、实名制与代发记录",
         "市人社局、项目主管部门", "处置", 120, "一般", "(三)(五)(九)"),
    Step("report_city", "向市根治欠薪工作领导小组办公室（市人社局）书面报告",
         "属地乡镇/街道/管委会", "报告", 120, "一般", "(二十三) 逐级报告"),
    Step("police_on_site", "公安机关（辖区派出所）到场维持秩序", "市公安局", "到场", 30, "较大", "(二十三)"),
    Step("petition_on_site", "信访部门到场接待、引导依法表达诉求", "市信访局", "到场", 60, "较大", "(二十三)"),
    Step("authority_on_site", "项目主管部门（住建/交运/水务/房管等）到场督促总包解决",
         "项目主管部门", "到场", 60, "较大", "(二十三)"),
    Step("report_leader", "报告市政府分管领导", "市人社局", "报告", 60, "较大", "(二十三) 逐级报告"),
    Step("plan_start", "启动欠薪突发事件应急预案，成立现场指挥部", "市人民政府", "处置", 30, "重大", "(二十三)"),
    Step("first_on_site", "市公安局、市人社局、市信访局、项目主管部门第一时间赶到现场",
         "市公安局、市人社局、市信访局、项目主管部门", "到场", 30, "重大", "(二十三)"),
    Step("fund_advance", "研究动用应急周转金、工资保证金先行垫付工资或基本生活费",
         "属地政府、市人社局、市财政局", "处置", 240, "重大", "(十)(二十四)"),
    Step("report_zhengzhou", "向郑州市人民政府及上级人社部门报告", "市人民政府", "报告", 60, "重大", "(二十三) 逐级报告"),
    Step("leader_command", "市政府主要领导赶赴现场指挥", "市人民政府", "到场", 60, "特别重大", "(二十三)"),
    Step("report_province", "经郑州市逐级报告省人民政府", "市人民政府", "报告", 60, "特别重大", "(二十三) 逐级报告"),
    Step("public_info", "舆情监测与权威信息发布", "市委宣传部门", "处置", 120, "特别重大", "(二十三)"),
    Step("close_report", "事件平息后 24 小时内形成书面处置报告，跟踪欠薪清偿",
         "属地乡镇/街道/管委会、市人社局", "报告", 1440, "一般", "(二十三)"),
)
STEPS_BY_KEY = {s.key: s for s in _STEPS}
PHASES = ("通知", "到场", "报告", "处置")


class ResponseError(ValueError):
    """A checklist entry that cannot be recorded; the message is Chinese and names the field."""


def check_grade(grade: object) -> str:
    """The grade as one of GRADES, or ResponseError naming what is allowed."""
    g = str(grade or "").strip().removesuffix("级").removesuffix("事件")
    if g not in GRADES:
        raise ResponseError(f"事件等级“{grade}”无效；可用：{'、'.join(GRADES)}")
    return g


def steps_for(grade: str) -> list[Step]:
    """The steps a grade calls for: its own and every lower grade's, ordered by deadline."""
    level = GRADES.index(check_grade(grade))
    steps = [s for s in _STEPS if GRADES.index(s.grade) <= level]
    return sorted(steps, key=lambda s: (s.within, PHASES.index(s.phase)))


def progress(grade: str, records: pd.DataFrame | None, occurred_at: object, now: datetime | None = None) -> pd.DataFrame:
    """The checklist of one incident with what was done when.

    records: rows of incident_responses for the incident (step, done_at, user_name, note); the
    latest row per step counts, a row with empty done_at undoes the step. Columns out: key, text,
    who, phase, clause, due_at, done_at, user_name, note, state (已完成 | 超时完成 | 已超时 | 待办).
    """
    now = now or datetime.now()
    start = pd.to_datetime(occurred_at, errors="coerce")
    steps = steps_for(grade)
    out = pd.DataFrame([{"key": s.key, "text": s.text, "who": s.who, "phase": s.phase, "clause": s.clause,
                         "within": s.within} for s in steps])
    out["due_at"] = start + pd.to_timedelta(out["within"], unit="min") if pd.notna(start) else pd.NaT
    latest = _latest(records)
    out = out.merge(latest, how="left", left_on="key", right_on="step").drop(columns=["step"], errors="ignore")
    done = out["done_at"].notna()
    late = done & out["due_at"].notna() & (out["done_at"] > out["due_at"])
    overdue = ~done & out["due_at"].notna() & (out["due_at"] < pd.Timestamp(now))
    out["state"] = "待办"
    out.loc[overdue, "state"] = "已超时"
    out.loc[done, "state"] = "已完成"
    out.loc[late, "state"] = "超时完成"
    return out.drop(columns=["within"])


def _latest(records: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["step", "done_at", "user_name", "note"]
    if records is None or len(records) == 0:
        return pd.DataFrame(columns=cols).astype({"done_at": "datetime64[ns]"})
    r = records.copy()
    order = "id" if "id" in r else None
    r = r.sort_values(order) if order else r
    r = r.drop_duplicates("step", keep="last")[cols]
    r["done_at"] = pd.to_datetime(r["done_at"], errors="coerce")
    return r


def step_record(incident_no: str, township_code: str | None, grade: str, step: str, user: str, done: bool = True,
                note: str = "", at: datetime | None = None) -> dict:
    """A row for incident_responses: `step` done (or undone) by `user` at `at` (default now)."""
    if not str(incident_no or "").strip():
        raise ResponseError("缺少事件编号")
    if step not in {s.key for s in steps_for(grade)}:
        raise ResponseError(f"步骤“{step}”不属于{check_grade(grade)}事件的响应清单")
    return {"incident_no": str(incident_no).strip(), "township_code": township_code, "step": step,
            "done_at": (at or datetime.now()) if done else None, "user_name": user, "note": str(note or "")[:500]}


def summary(table: pd.DataFrame) -> dict:
    """Counts for a heading: done, overdue, open, total."""
    n = len(table)
    done = int(table["state"].isin(["已完成", "超时完成"]).sum()) if n else 0
    return {"total": n, "done": done, "overdue": int((table["state"] == "已超时").sum()) if n else 0,
            "open": n - done}


def elapsed_zh(occurred_at: object, now: datetime | None = None) -> str:
    """'已过 2 小时 15 分' since the incident, for the list."""
    start = pd.to_datetime(occurred_at, errors="coerce")
    if pd.isna(start):
        return ""
    mins = int(max(timedelta(0), (now or datetime.now()) - start.to_pydatetime()).total_seconds() // 60)
    if mins >= 1440:
        return f"已过 {mins // 1440} 天"
    return f"已过 {mins // 60} 小时 {mins % 60} 分" if mins >= 60 else f"已过 {mins} 分"
