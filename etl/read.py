"""Read the files offices send (xlsx, csv, tsv) into raw string tables, header row found, source rows kept."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from etl.errors import UnreadableFile
from etl.kinds import NOISE_HEADERS, _base, all_header_keys, header_key

HEADER_SCAN_ROWS = 30  # the header row is looked for among the first rows of a sheet
ENCODINGS = ("utf-8-sig", "gbk", "gb18030")
SUFFIXES = (".xlsx", ".xlsm", ".csv", ".tsv", ".txt")


@dataclass(eq=False)
class Sheet:
    """One table read from a file: headers as the clerk wrote them (made unique), cells as strings.

    `data` has one column per header (same order) and is indexed by the source row number as
    the clerk sees it in Excel (1-based; the header row is its own row). `extra` marks rows that
    had cells beyond the last header column (a shifted row).
    """

    file: str
    headers: list[str]
    data: pd.DataFrame
    sheet: str | None = None
    encoding: str | None = None
    header_row: int = 1
    extra: pd.Series | None = None
    notes: list[str] = field(default_factory=list)


def read_file(path: str | Path, header_keys: frozenset[str] | set[str] | None = None) -> list[Sheet]:
    """Every sheet of `path` that has a header row (xlsx: each such sheet; csv/tsv: one).

    `header_keys` are the header keys that count when looking for the header row (default: every
    header any kind accepts, plus `--map` sources the caller adds). Raises UnreadableFile.
    """
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise UnreadableFile(f"{name}: no such file", f"文件 {name} 不存在或不是文件", file=name)
    keys = frozenset(header_keys) if header_keys is not None else all_header_keys()
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p, name, keys)
    if suffix in (".csv", ".tsv", ".txt"):
        return [_read_text(p, name, keys)]
    if suffix == ".xls":
        raise UnreadableFile(
            f"{name}: legacy .xls", f"文件 {name} 是旧版 .xls 格式：请在 Excel/WPS 中另存为 .xlsx 后再导入", file=name
        )
    raise UnreadableFile(
        f"{name}: unsupported type {suffix}",
        f"文件 {name} 的类型 {suffix or '(无扩展名)'} 不支持；可用：xlsx、csv、tsv",
        file=name,
    )


# ---- text files ------------------------------------------------------------------------------


def decode(raw: bytes, name: str = "") -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), else GBK, else GB18030; returns (text, encoding)."""
    for enc in ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        label = {"utf-8-sig": "UTF-8-BOM" if raw.startswith(b"\xef\xbb\xbf") else "UTF-8"}.get(enc, enc.upper())
        return text, label
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    if best is not None and best.encoding:
        try:
            return raw.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    raise UnreadableFile(
        f"{name}: undetectable encoding", f"文件 {name} 的编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV", file=name
    )


def _sniff_sep(lines: list[str], suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    counts = {sep: sum(line.count(sep) for line in lines) for sep in (",", "\t", ";")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _max_fields(raw: bytes, sep: str, block: int = 1 << 23) -> int:
    """The most separators on any line + 1, counted on the bytes in blocks (GBK/UTF-8 never use
    an ASCII byte inside a multi-byte character, so ',' and tab bytes are always separators)."""
    arr = np.frombuffer(raw, dtype=np.uint8)
    code = ord(sep)
    best, carry, start = 0, 0, 0
    while start < len(arr):
        chunk = arr[start : start + block]
        nl = np.flatnonzero(chunk == 10)
        seps = np.flatnonzero(chunk == code)
        line = np.searchsorted(nl, seps)  # line number of each separator within the block
        counts = np.bincount(line, minlength=len(nl) + 1)
        counts[0] += carry  # the first line continues the previous block's last line
        best = max(best, int(counts.max()) if len(counts) else 0)
        carry = int(counts[-1]) if len(nl) == 0 else int(counts[len(nl)])
        start += block
    return best + 1


_CODECS = {"UTF-8-BOM": "utf-8-sig", "UTF-8": "utf-8", "GBK": "gbk", "GB18030": "gb18030"}


def _read_text(p: Path, name: str, keys: frozenset[str]) -> Sheet:
    raw = p.read_bytes()
    if not raw[:65536].strip() and not raw.strip():
        raise UnreadableFile(f"{name}: empty", f"文件 {name} 是空文件", file=name)
    head = _utf8_head(raw)
    if head is not None:  # UTF-8 as far as the header scan reads: pyarrow reads (and checks) the rest
        sheet = _read_text_arrow(raw, name, keys, head, p.suffix.lower())
        if sheet is not None:
            return sheet
    text, enc = decode(raw, name)
    sep, h, headers = _text_header(text[:200_000], p.suffix.lower(), keys)
    del text
    width = len(headers)
    # rows may have more cells than the header (an unquoted comma): read them all so they can be flagged
    wide = max(width, _max_fields(raw, sep))
    try:
        df = pd.read_csv(
            io.BytesIO(raw),
            encoding=_CODECS.get(enc, enc),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            names=range(wide),
            skiprows=h + 1,
            quotechar='"',
            index_col=False,
        )
    except (ValueError, csv.Error, pd.errors.ParserError, LookupError) as e:
        raise UnreadableFile(f"{name}: {e}", f"文件 {name} 无法按 CSV 读取（{e}）", file=name) from e
    df.index = pd.RangeIndex(h + 2, h + 2 + len(df))  # 1-based line number of each record
    return _finish(name, headers, df, None, enc, h + 1)


def _text_header(head_text: str, suffix: str, keys: frozenset[str]) -> tuple[str, int, list[str]]:
    """(separator, 0-based header line, headers) from the start of a text file."""
    head_lines = head_text.splitlines()[:HEADER_SCAN_ROWS]
    sep = _sniff_sep(head_lines, suffix)
    head = list(csv.reader(head_lines, delimiter=sep))
    h = _header_row_index(head, keys)
    return sep, h, _unique_headers(head[h])


def _utf8_head(raw: bytes) -> tuple[str, str] | None:
    """(first 200,000 characters, 'UTF-8' or 'UTF-8-BOM') when the file starts as valid UTF-8, else None."""
    import codecs

    bom = raw.startswith(b"\xef\xbb\xbf")
    try:  # an incremental decoder keeps back a character cut at the end of the slice
        text = codecs.getincrementaldecoder("utf-8")().decode(raw[3 if bom else 0 : 800_000], final=False)
    except UnicodeDecodeError:
        return None
    return text[:200_000], ("UTF-8-BOM" if bom else "UTF-8")


def _read_text_arrow(raw: bytes, name: str, keys: frozenset[str], head: tuple[str, str], suffix: str) -> Sheet | None:
    """A UTF-8 file through pyarrow's CSV reader (C++, no Python per cell until the frame is made).

    None where pyarrow would not read it as pandas' C parser does, and the caller reads it the
    usual way: pyarrow missing, bytes that are not UTF-8 further on (then GBK/GB18030 by `decode`),
    a quote or a bare CR among the skipped title lines, or any record whose cell count is not the
    header's (short or shifted rows, blank lines: the pandas path keeps and flags those).
    """
    try:
        import pyarrow as pa
        from pyarrow import csv as pacsv
    except ImportError:
        return None
    head_text, enc = head
    sep, h, headers = _text_header(head_text, suffix, keys)
    width = len(headers)
    body = raw[3:] if enc == "UTF-8-BOM" else raw
    start = 0
    for _ in range(h + 1):  # the title lines and the header line
        start = body.find(b"\n", start) + 1
        if start == 0:
            return None
    skipped = body[:start]
    if b'"' in skipped or (b"\r" in body and body.count(b"\r") != body.count(b"\r\n")):
        return None  # quoted cells among the skipped lines, or bare CR line ends
    try:
        skipped.decode("utf-8")
    except UnicodeDecodeError:
        return None
    names = [str(i) for i in range(width)]
    bad: list[int] = []

    def invalid(row) -> str:
        bad.append(1)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(body)[start:],
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
                                             newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names}, check_utf8=True,
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[]),
        )
    except (pa.ArrowInvalid, ValueError):  # not UTF-8 after all, or not CSV as pyarrow reads it
        return None
    if bad:
        return None
    import pyarrow.compute as pc

    count = np.zeros(table.num_rows, dtype=np.int64)  # filled cells per row, counted on the arrow buffers
    columns = {}
    for i, n in enumerate(names):
        col = table.column(n)
        count += pc.greater(pc.binary_length(col), 0).to_numpy(zero_copy_only=False)
        columns[i] = pd.Series(col.to_numpy(zero_copy_only=False), dtype="str")  # the same "str" dtype read_csv gives
    del table, col
    df = pd.DataFrame(columns)
    df.index = pd.RangeIndex(h + 2, h + 2 + len(df))  # 1-based line number of each record
    return _finish(name, headers, df, None, enc, h + 1, count=count)


# ---- xlsx ------------------------------------------------------------------------------------


def _read_xlsx(p: Path, name: str, keys: frozenset[str]) -> list[Sheet]:
    """Every worksheet through calamine (values only: cached formula results, no styles)."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        wb = CalamineWorkbook.from_path(str(p))
        metas = [m for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    except Exception as e:  # noqa: BLE001 - calamine raises several types for a bad file
        raise UnreadableFile(
            f"{name}: {type(e).__name__}: {e}", f"文件 {name} 不是有效的 xlsx 工作簿（{type(e).__name__}）", file=name
        ) from e
    sheets: list[Sheet] = []
    fallback: Sheet | None = None
    try:
        for meta in metas:
            try:
                ws = wb.get_sheet_by_name(meta.name)
                # skip_empty_area=False: rows and columns keep their place (row 1 is rows[0])
                grid = ws.to_python(skip_empty_area=False)
                merged = ws.merged_cell_ranges or []
            except Exception as e:  # noqa: BLE001
                raise UnreadableFile(
                    f"{name}: sheet {meta.name}: {type(e).__name__}: {e}",
                    f"文件 {name} 的工作表 {meta.name} 无法读取（{type(e).__name__}）",
                    file=name,
                ) from e
            rows = [[v if v.__class__ is str and v else _cell(v) for v in r] for r in grid]
            del grid
            while rows and not any(v is not None for v in rows[-1]):
                rows.pop()  # calamine pads to the sheet's recorded size
            if not rows:
                continue
            # calamine reads the covered cells of a merged range as empty: give them the top-left value
            _fill_merged(rows, [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in merged])
            scan = rows[:HEADER_SCAN_ROWS]
            h = _header_row_index(scan, keys)
            found = _row_score(scan[h], keys) >= 2
            headers, start = _headers_with_subrow(rows, h, keys)
            width = len(headers)
            body = [(r + [None] * width)[:width] for r in rows[start:]]
            extra = pd.Series([any(v not in (None, "") for v in r[width:]) for r in rows[start:]], dtype=bool)
            df = pd.DataFrame(body, columns=range(width), dtype=object)
            df.index = pd.RangeIndex(start + 1, start + 1 + len(df))
            extra.index = df.index
            sheet = _finish(name, headers, df, meta.name, None, h + 1, extra)
            if found:
                sheets.append(sheet)
            elif fallback is None:
                fallback = sheet
    finally:
        wb.close()
    if sheets:
        return sheets
    if fallback is not None:
        return [fallback]  # no recognisable header anywhere: let kind resolution name the headers
    raise UnreadableFile(f"{name}: no data", f"文件 {name} 没有任何数据", file=name)


def _cell(v: object) -> str | None:
    """An Excel cell as text: empty -> None, integral floats without '.0', dates ISO, booleans TRUE/FALSE."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        # every integer below 2**53 is exact in a double: ids and counts stored as numbers keep their digits
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d") if v.time() == time(0) else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


def _fill_merged(rows: list[list], ranges: list[tuple[int, int, int, int]]) -> None:
    """Give every cell of a merged range the value of its top-left cell (in place)."""
    for r1, c1, r2, c2 in ranges:
        if r1 >= len(rows):
            continue
        top = rows[r1]
        value = top[c1] if c1 < len(top) else None
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c2:
                row.extend([None] * (c2 + 1 - len(row)))
            for c in range(c1, c2 + 1):
                row[c] = value


def _headers_with_subrow(rows: list[list], h: int, keys: frozenset[str]) -> tuple[list[str], int]:
    """Headers of row h, combined with a sub-header row below it where the header has merged groups.

    A two-level header ('农民工工资专户' merged over '开户银行 | 开户日期') uses, per column, the
    first of sub, parent+sub, parent that is a known header; data then starts one row lower.
    """
    top = list(rows[h])
    if h + 1 < len(rows):
        sub = list(rows[h + 1]) + [None] * max(0, len(top) - len(rows[h + 1]))
        repeated = any(top[i] and top[i] == top[i - 1] for i in range(1, len(top)))
        sub_known = sum(1 for i, v in enumerate(sub[: len(top)]) if v and _known(v, keys) and v != top[i])
        if repeated and sub_known >= 1:
            combined = []
            for i, parent in enumerate(top):
                s = sub[i] if i < len(sub) else None
                options = [o for o in (s, f"{parent or ''}{s or ''}", parent) if o]
                pick = next((o for o in options if _known(o, keys)), s if s and s != parent else parent)
                combined.append(pick)
            return _unique_headers(combined), h + 2
    return _unique_headers(top), h + 1


# ---- shared ----------------------------------------------------------------------------------


def _known(value: object, keys: frozenset[str]) -> bool:
    k = header_key(value)
    return bool(k) and (k in keys or _base(k) in keys)


def _row_score(row: list, keys: frozenset[str]) -> int:
    return sum(1 for v in row if v is not None and _known(v, keys))


def _header_row_index(rows: list[list], keys: frozenset[str]) -> int:
    """The row with most known headers (first on ties); else the first row with 2+ filled cells."""
    scores = [_row_score(r, keys) for r in rows]
    if scores and max(scores) >= 2:
        return scores.index(max(scores))
    for i, r in enumerate(rows):
        if sum(1 for v in r if v not in (None, "")) >= 2:
            return i
    return 0


def _unique_headers(row: list) -> list[str]:
    """Header texts (trimmed, empty -> '列N'), repeated names suffixed '(2)', '(3)'."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, v in enumerate(row):
        text = str(v).strip() if v not in (None, "") else f"列{i + 1}"
        text = re.sub(r"\s+", " ", text)
        if text in seen:
            seen[text] += 1
            text = f"{text}({seen[text]})"
        else:
            seen[text] = 1
        out.append(text)
    while out and out[-1].startswith("列") and out[-1][1:].isdigit():
        out.pop()  # trailing empty header cells
    return out


def _filled(s: pd.Series) -> np.ndarray:
    """Cells that hold something (neither missing nor ''); text columns by length (pyarrow: one kernel)."""
    if s.dtype == "str":
        return s.str.len().fillna(0).to_numpy(dtype=np.int64) > 0
    v = s.to_numpy(dtype=object)
    return pd.notna(v) & (v != "")


def _finish(
    name: str,
    headers: list[str],
    df: pd.DataFrame,
    sheet: str | None,
    enc: str | None,
    header_row: int,
    extra: pd.Series | None = None,
    count: np.ndarray | None = None,
) -> Sheet:
    """Trim to the header width, drop fully empty rows, mark rows with cells beyond the headers.

    `count`: filled cells per row when the reader has it already.
    """
    width = len(headers)
    if extra is None:
        beyond = df.iloc[:, width:]
        extra = (
            beyond.notna().any(axis=1) & (beyond.fillna("").astype(str) != "").any(axis=1)
            if beyond.shape[1]
            else pd.Series(False, index=df.index)
        )
    df = df.iloc[:, :width]
    df.columns = headers
    if count is None:
        count = np.zeros(len(df), dtype=np.int64)
        for i in range(width):
            count += _filled(df.iloc[:, i])
    keep = count > 0
    few = np.flatnonzero(keep & (count <= 2))  # rows of one or two cells may be only blanks: look closer
    if len(few):
        sub = df.iloc[few].astype("str")
        keep[few] = sub.apply(lambda c: c.str.strip().ne("") & c.notna()).any(axis=1).to_numpy(bool)
    keep = pd.Series(keep | extra.to_numpy(bool), index=df.index)
    df, extra = df[keep], extra[keep]
    noise = [h for h in headers if header_key(h) in NOISE_HEADERS]
    notes = [f"忽略列：{'、'.join(noise)}"] if noise else []
    return Sheet(name, headers, df, sheet, enc, header_row, extra.astype(bool), notes)
