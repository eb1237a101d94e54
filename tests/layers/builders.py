"""Tiny hand-built data for the layer tests: two square townships, a few projects, reports, cases."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from layers.base import Filters, LayerData

A = "410183001000"  # 青屏街街道 (west square)
B = "410183002000"  # 新华路街道 (east square)
XSS = "<img src=x onerror=alert(1)>"


def townships(is_demo: bool = True) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [A, B], "name": ["青屏街街道", "新华路街道"], "kind": ["街道", "街道"], "is_demo": [is_demo, is_demo],
         "lon": [113.35, 113.45], "lat": [34.55, 34.55]},
        geometry=[shapely.box(113.3, 34.5, 113.4, 34.6), shapely.box(113.4, 34.5, 113.5, 34.6)], crs=4326,
    )


def project(code: str, township: str = A, **kw) -> dict:
    """An active project that meets every rule as of 2024-03 unless overridden."""
    row = {
        "project_code": code, "name": f"项目{code}", "township_code": township, "status": "在建",
        "start_date": "2024-01-10", "contract_value": 1000.0, "contractor": "某建设公司", "contractor_phone": "13812345678",
        "labour_officer": "张三", "labour_officer_phone": "13912345678", "filed_date": "2024-01-20",
        "notice_board": True, "special_account": True, "special_account_bank": "某银行",
        "special_account_opened": "2024-01-02", "special_account_filed": "2024-01-05", "bank_payroll": True,
        "lon": 113.35 if township == A else 113.45, "lat": 34.55,
    }
    row.update(kw)
    return row


def report(code: str, month: str = "2024-03", onsite=40, registered=40, cards=40, paid_through="2024-02") -> dict:
    return {"project_code": code, "month": month, "workers_onsite": onsite, "workers_registered": registered,
            "cards_issued": cards, "paid_through_month": paid_through}


def deposit(code: str, amount: float = 20.0, date: str = "2024-01-08", status: str = "缴存") -> dict:
    return {"project_code": code, "paid_date": date, "amount": amount, "status": status}


def case(no: str, township: str = A, status: str = "受理", amount: float = 10.0, workers: int = 5, **kw) -> dict:
    row = {"case_no": no, "received_date": "2024-03-01", "source": "举报投诉", "township_code": township,
           "project_code": None, "credit_code": None, "employer_name": "某劳务公司", "workers": workers, "amount": amount,
           "status": status, "closed_date": None, "recovered": 0.0, "lon": 113.36 if township == A else 113.46,
           "lat": 34.56, "complainant": "李四", "complainant_id": "410183199001011234",
           "complainant_phone": "13800001111"}
    row.update(kw)
    return row


def data(projects=(), reports=(), deposits=(), cases=(), is_demo: bool = True) -> LayerData:
    return LayerData(
        townships=townships(is_demo), projects=pd.DataFrame(list(projects)), compliance=pd.DataFrame(list(reports)),
        deposits=pd.DataFrame(list(deposits)), cases=pd.DataFrame(list(cases)),
    )


MARCH = Filters(month_from="2024-01", month_to="2024-03", as_of="2024-12-31")
