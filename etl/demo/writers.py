"""Write demo tables as offices do: xlsx with title rows and merged cells, csv in GBK or UTF-8 (with or without BOM).

Output is byte-for-byte deterministic: the workbook's creation time is fixed and xlsxwriter
stamps zip members with a fixed date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

FIXED_TIME = dt.datetime(2026, 11, 1, 9, 0, 0)


def write_xlsx(
    path: Path,
    headers: list[str],
    columns: list[np.ndarray],
    title: str,
    subtitle: str,
    groups: list[tuple[str, list[int]]] = (),
    sheet: str = "Sheet1",
    number_index: bool = True,
) -> dict:
    """One sheet: a merged title row, a merged subtitle row, the header (one row, or two with
    merged groups over sub-headers and the other headers merged down), then the data.

    `columns` hold cells (str, int, float, datetime.date/datetime, None). Returns the layout:
    title_rows, header_rows, header_row and first_data_row (1-based Excel rows).
    """
    if number_index:
        headers = ["序号", *headers]
        columns = [np.arange(1, len(columns[0]) + 1).astype(object), *columns]
        groups = [(label, [i + 1 for i in idx]) for label, idx in groups]
    wb = xlsxwriter.Workbook(
        str(path), {"constant_memory": False, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    wb.set_properties({"created": FIXED_TIME, "author": "wagemap demo", "title": title})
    ws = wb.add_worksheet(sheet)
    f_title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    f_sub = wb.add_format({"align": "left"})
    f_head = wb.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True})
    f_date = wb.add_format({"num_format": "yyyy-mm-dd"})
    f_time = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ncol = len(headers)
    ws.merge_range(0, 0, 0, ncol - 1, title, f_title)
    ws.merge_range(1, 0, 1, ncol - 1, subtitle, f_sub)
    ws.set_row(0, 30)
    h = 2
    grouped = {i: label for label, idx in groups for i in idx}
    if groups:
        for label, idx in groups:
            ws.merge_range(h, min(idx), h, max(idx), label, f_head)
            for i in idx:
                ws.write_string(h + 1, i, headers[i], f_head)
        for i, name in enumerate(headers):
            if i not in grouped:
                ws.merge_range(h, i, h + 1, i, name, f_head)
        first = h + 2
    else:
        for i, name in enumerate(headers):
            ws.write_string(h, i, name, f_head)
        first = h + 1
    for j, col in enumerate(columns):
        ws.set_column(j, j, 12 if j else 6)
        for i, v in enumerate(col):  # xlsx writing is cell by cell; big tables go to csv instead
            if v is None:
                continue
            r = first + i
            if isinstance(v, str):
                ws.write_string(r, j, v)
            elif isinstance(v, dt.datetime):
                ws.write_datetime(r, j, v, f_time)
            elif isinstance(v, dt.date):
                ws.write_datetime(r, j, dt.datetime(v.year, v.month, v.day), f_date)
            elif isinstance(v, (bool, np.bool_)):
                ws.write_boolean(r, j, bool(v))
            else:
                fv = float(v)
                if fv == fv:
                    ws.write_number(r, j, fv)
    ws.freeze_panes(first, 0)
    wb.close()
    return {
        "title_rows": 2,
        "header_rows": 2 if groups else 1,
        "header_row": h + 1,
        "first_data_row": first + 1,
        "sheet": sheet,
        "extra_columns": ["序号"] if number_index else [],
    }


def write_csv(path: Path, headers: list[str], columns: list[np.ndarray], encoding: str) -> dict:
    """A plain csv: header line then data; encoding 'gbk' (CRLF, as Excel on Windows saves),
    'utf-8-sig' (with BOM) or 'utf-8'. Returns the layout like `write_xlsx`."""
    df = pd.DataFrame({i: pd.Series(c, dtype=object) for i, c in enumerate(columns)})
    df.columns = headers
    df.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n" if encoding == "gbk" else "\n")
    return {"title_rows": 0, "header_rows": 1, "header_row": 1, "first_data_row": 2, "sheet": None, "extra_columns": []}
