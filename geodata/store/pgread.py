"""Bulk reads from PostGIS: `COPY (SELECT …) TO STDOUT` parsed by pyarrow, not row by row.

    from geodata.store.pgread import read_frame
    df = read_frame(conn, sa.select(*columns).where(...))   # conn: a store.begin(scope) connection

Why by hand: `pandas.read_sql` turns every value into a Python object first (298,200 case rows with
31 columns: 16.4 s at province scale on the shared VM); the server's COPY writes CSV (3.1 s) and
pyarrow's multi-threaded parser reads it with the column types taken from the schema (2.5 s + 0.4 s
to pandas). The statement runs on the caller's connection, in its transaction, so the scope ceiling
(`set_config('app.township', …)` and the row-level security policies) applies exactly as for any
other read; values go in as psycopg parameters (bound client-side for COPY), never formatted into SQL.
The frame matches `pandas.read_sql`'s: str columns, datetime.date objects for DATE, datetime64[us] for
TIMESTAMP, float64 for floats and for integers with NULLs, bool for booleans, '' kept apart from NULL,
object dtype holding None for a column without any value.

Row order: Store.read orders by the key (load order), so every read of one data version returns the rows
in the same order (a layer that caps its points "first N after a stable sort" keeps the same points in
every process). Without the ORDER BY the order was the heap's, which differed between reads at province
scale (2026-12-06, a helper's two runs of the same code). A bulk read also turns off `synchronize_seqscans`
for its transaction: with it on (the default), a sequential scan of a table larger than a quarter of
shared_buffers that starts while another is running joins it midway and returns the rows rotated.
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa


def _arrow_type(t: sa.types.TypeEngine) -> pa.DataType:
    if isinstance(t, (sa.String, sa.Text)):
        return pa.string()
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(t, sa.Date):
        return pa.date32()
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.Integer):
        return pa.int64()
    return pa.float64()


def read_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """The rows of `query` (plain columns of one table) as a DataFrame, through COPY."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})  # IN (...) as bound params
    names = [c.name for c in query.selected_columns]
    types = {c.name: _arrow_type(c.type) for c in query.selected_columns}
    buf = io.BytesIO()
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute("SET LOCAL synchronize_seqscans = off")  # rows in physical order, every read (module docstring)
        with cur.copy(f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)", compiled.params) as cp:
            for block in cp:
                buf.write(block)
    finally:
        cur.close()
    if buf.tell() == 0:  # no rows: the same empty frame (and dtypes) as pandas.read_sql gives
        return pd.read_sql(query, conn)
    table = pacsv.read_csv(
        pa.BufferReader(buf.getbuffer()),
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                             quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]),
    )
    df = table.to_pandas(date_as_object=True)
    for n in names:  # a column with no value at all: read_sql gives object dtype holding None
        if table.column(n).null_count == len(df):
            df[n] = pd.Series([None] * len(df), index=df.index, dtype=object)
    return df
