"""Backtest of the risk score (八): does it rank the employers/projects that get a case in the next 3 months?

    .venv/bin/python benchmarks/risk_backtest.py                 # demo (city) -> temp GeoPackage -> backtest
    .venv/bin/python benchmarks/risk_backtest.py --db var/wagemap.gpkg   # an already loaded store
    .venv/bin/python benchmarks/risk_backtest.py --record         # also write the section in benchmarks/RESULTS.md

For each past month M: the data is cut to what was known at the end of M (monthly reports and
indicators up to M, cases received by then, deposits paid by then; grades and blacklist by
their own dates), every active project and known employer is scored with layers.risk.score,
and the label is "a case received in the following `horizon` months" (linked as in
layers.credit.case_links). Measures per month: ROC AUC and precision in the top 10 %, for the
score and for the baseline "past arrears only" (1 if the entity — or, for a project, its
contractor — had a case by the end of M, else 0; ties broken at random in expectation).

Limits, said plainly: the demo history is SYNTHETIC (etl.demo simulates trouble that shows in
wages, 专户 funding and indicators 1-3 months before a case), so these figures show the
machinery works on a world built to have a signal, not that it predicts real arrears. The
store keeps only the current project status and deposit status, so 停工/竣工 and 动用/退还 are
not used for past months (a project counts as active in M when it reported in M or started by
M and is not 竣工 now; a deposit paid by M counts as held).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layers.base import Filters, LayerData  # noqa: E402
from layers.credit import arrears_record, as_date, case_links, month_end, month_index, month_str  # noqa: E402
from layers.risk import score  # noqa: E402

KINDS = ("projects", "enterprises", "compliance", "deposits", "cases", "incidents", "funds", "indicators", "credit")
MARK_START, MARK_END = "<!-- risk_backtest:start -->", "<!-- risk_backtest:end -->"
NOTE = ("单位·有指标: the demo gives (八) indicator series mostly to employers that have cases, so having indicators at all\n"
        "predicts a case; this row compares score and baseline within those employers only. Baseline = past arrears only\n"
        "(the entity, or a project's contractor, had a case by the end of M). Status-based rules (停工, 动用) are off\n"
        "for past months because the store keeps only the current status.\n")


# ---- data --------------------------------------------------------------------------------------

def demo_store(scale: str, seed: int, workdir: Path):
    """Write the demo files and load them through the ETL into a fresh GeoPackage."""
    from etl.demo import write_demo
    from etl.pipeline import load_files
    from geodata.store import open_store

    files = workdir / "demo"
    write_demo(files, scale=scale, seed=seed)
    store = open_store(str(workdir / "backtest.gpkg"))
    store.init()
    load_files(store, sorted(str(p) for p in files.iterdir() if p.name[:2].isdigit()), progress=False)
    return store


def read_all(store) -> LayerData:
    return LayerData(townships=store.townships(), **{k: store.read(k) for k in KINDS})


def as_known_at(data: LayerData, month: str) -> LayerData:
    """The data as it stood at the end of `month` (see module docstring)."""
    m = int(month_index(pd.Series([month])).iloc[0])
    end = month_end(month)

    def upto_month(df: pd.DataFrame) -> pd.DataFrame:
        return df[month_index(df["month"]) <= m] if len(df) else df

    def upto_date(df: pd.DataFrame, c: str) -> pd.DataFrame:
        return df[as_date(df[c]) <= end] if len(df) and c in df.columns else df

    comp = upto_month(data.compliance)
    p = data.projects.copy()
    reporting = set(comp.loc[month_index(comp["month"]) == m, "project_code"]) if len(comp) else set()
    status = p["status"].astype("string")
    # current status only: 停工 is unknown for the past; a 竣工 project reporting in M was active then
    done_then_active = status.eq("竣工").fillna(False) & p["project_code"].isin(reporting)
    p["status"] = np.where(status.eq("停工").fillna(False) | done_then_active, "在建", p["status"].astype(object))
    dep = upto_date(data.deposits, "paid_date").copy()
    if "status" in dep.columns:  # 动用/退还 is today's status: when it happened is unknown, so not used for the past
        dep["status"] = dep["status"].where(~dep["status"].isin(["动用", "已动用", "退还", "已退还"]), "缴存")
    return LayerData(townships=data.townships, projects=p, enterprises=data.enterprises, compliance=comp,
                     deposits=dep, cases=upto_date(data.cases, "received_date"),
                     incidents=data.incidents.iloc[0:0], funds=data.funds, indicators=upto_month(data.indicators),
                     credit=data.credit)


# ---- metrics -----------------------------------------------------------------------------------

def roc_auc(score_: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties; NaN without both classes."""
    pos, neg = label.sum(), (~label).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(score_).rank(method="average").to_numpy()
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def precision_at(score_: np.ndarray, label: np.ndarray, share: float = 0.10) -> float:
    """Expected precision of the top `share` (ties at the cut taken at random)."""
    n = len(score_)
    if n == 0:
        return float("nan")
    k = max(1, math.ceil(share * n))
    order = np.argsort(-score_, kind="stable")
    cut = score_[order[k - 1]]
    above = score_ > cut
    at = score_ == cut
    need = k - above.sum()
    return float((label[above].sum() + need * label[at].sum() / at.sum()) / k)


# ---- the backtest ------------------------------------------------------------------------------

def months_to_test(data: LayerData, horizon: int, warmup: int) -> list[str]:
    mi = month_index(data.compliance["month"]).dropna()
    last_case = as_date(data.cases["received_date"]).max()
    last = min(int(mi.max()), last_case.year * 12 + last_case.month - 1) - horizon
    first = int(mi.min()) + warmup
    return [month_str(i) for i in range(first, last + 1)]


def one_month(data: LayerData, links: pd.DataFrame, received: pd.Series, month: str, horizon: int) -> pd.DataFrame:
    """Scores, baseline and labels of every entity for one month."""
    view = as_known_at(data, month)
    end = month_end(month)
    s = score(view, Filters(month_to=month, as_of=str(end.date())))[["entity_type", "entity_id", "score", "points"]]
    rec = arrears_record(view, end)
    past = set(zip(rec["entity_type"], rec["entity_id"], strict=False))
    s["baseline"] = [float(k in past) for k in zip(s["entity_type"], s["entity_id"], strict=False)]
    contractor = view.projects.set_index("project_code")["contractor_credit_code"].astype("string").str.upper()
    is_p = s["entity_type"] == "project"
    via = s.loc[is_p, "entity_id"].map(contractor).isin({e for t, e in past if t == "employer"})
    s.loc[is_p, "baseline"] = np.maximum(s.loc[is_p, "baseline"], via.astype(float))
    horizon_end = month_end(month_str(month_index(pd.Series([month])).iloc[0] + horizon))
    new = links[links["case_no"].map(received).between(end + pd.Timedelta(days=1), horizon_end)]
    hit = set(zip(new["entity_type"], new["entity_id"], strict=False))
    s["label"] = [k in hit for k in zip(s["entity_type"], s["entity_id"], strict=False)]
    s["month"] = month
    return s


def run(data: LayerData, horizon: int = 3, warmup: int = 6, quiet: bool = False) -> pd.DataFrame:
    links = case_links(data)
    received = pd.Series(as_date(data.cases["received_date"]).to_numpy(), index=data.cases["case_no"].astype(str).to_numpy())
    frames = []
    for month in months_to_test(data, horizon, warmup):
        t0 = time.perf_counter()
        frames.append(one_month(data, links, received, month, horizon))
        if not quiet:
            print(f"  {month} scored in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return pd.concat(frames, ignore_index=True)


def summarise(all_: pd.DataFrame, watched: set[str] | None = None) -> pd.DataFrame:
    """Per entity type (and all): mean over months of AUC and precision@10% for score and baseline.

    `watched`: employers with indicator data. The demo picks them among employers with cases
    first, so having indicators at all predicts a case there; the row restricted to them
    compares score and baseline without that artefact.
    """
    rows = []
    emp = all_[all_["entity_type"] == "employer"]
    parts = [("项目 project", all_[all_["entity_type"] == "project"]), ("单位 employer", emp)]
    if watched:
        parts.append(("单位·有指标 employer with indicators", emp[emp["entity_id"].isin(watched)]))
    parts.append(("全部 all", all_))
    for name, part in parts:
        per = []
        for _, g in part.groupby("month"):
            sc, base, lab = g["score"].to_numpy(), g["baseline"].to_numpy(), g["label"].to_numpy(bool)
            per.append((roc_auc(sc, lab), roc_auc(base, lab), precision_at(sc, lab), precision_at(base, lab), lab.mean(), len(g)))
        a = np.array(per, dtype=float)
        rows.append({"entities": name, "months": len(per), "mean n": round(np.nanmean(a[:, 5])),
                     "base rate": np.nanmean(a[:, 4]), "AUC score": np.nanmean(a[:, 0]), "AUC baseline": np.nanmean(a[:, 1]),
                     "P@10% score": np.nanmean(a[:, 2]), "P@10% baseline": np.nanmean(a[:, 3]),
                     "months score beats baseline (AUC)": int(np.nansum(a[:, 0] > a[:, 1]))})
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, args: argparse.Namespace, first: str, last: str, secs: float) -> str:
    fmt = summary.copy()
    for c in ("base rate", "AUC score", "AUC baseline", "P@10% score", "P@10% baseline"):
        fmt[c] = fmt[c].map(lambda v: f"{v:.3f}")
    head = "| " + " | ".join(fmt.columns) + " |\n|" + "---|" * len(fmt.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in fmt.itertuples(index=False))
    return (f"{MARK_START}\n## Risk score backtest (`benchmarks/risk_backtest.py`)\n\n"
            f"Demo scale `{args.scale}`, seed {args.seed}; months {first} … {last}, "
            f"label = a case in the next {args.horizon} months; {secs:.0f} s. "
            "**The demo history is synthetic** (trouble is simulated to show 1-3 months before a case), "
            "so this shows the score and its plumbing work, not that it predicts real arrears.\n\n"
            + head + body + "\n" + NOTE + f"\n{MARK_END}\n")


def record(text: str, path: Path) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    if MARK_START in old and MARK_END in old:
        new = old[: old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="an already loaded store (path .gpkg or postgresql+psycopg://…); default: fresh demo")
    ap.add_argument("--scale", default="city", help="demo scale when no --db (city | small)")
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--horizon", type=int, default=3, help="months after M in which a case counts")
    ap.add_argument("--warmup", type=int, default=6, help="months of history before the first scored month")
    ap.add_argument("--record", action="store_true", help="write the section in benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            from geodata.store import open_store

            store = open_store(args.db)
        else:
            print(f"writing the {args.scale} demo and loading it through the ETL …", file=sys.stderr)
            store = demo_store(args.scale, args.seed, Path(tmp))
        data = read_all(store)
    print("NOTE: the demo history is synthetic; see the module docstring.", file=sys.stderr)
    all_ = run(data, args.horizon, args.warmup)
    watched = set(data.indicators["credit_code"].astype(str).str.upper()) if len(data.indicators) else None
    summary = summarise(all_, watched)
    months = sorted(all_["month"].unique())
    secs = time.perf_counter() - t0
    pd.set_option("display.width", 200)
    print(f"\nRisk backtest, months {months[0]} … {months[-1]}, horizon {args.horizon} months (synthetic demo history)\n")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.record:
        record(markdown(summary, args, months[0], months[-1], secs), Path(__file__).with_name("RESULTS.md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
