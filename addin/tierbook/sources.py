"""Sources beyond Excel's row limit (issue 14): a Parquet folder or glob, a large CSV, a
query against a DuckDB file, or the same Parquet on Spark.

The aggregation of aggregate.py runs in DuckDB (embedded, out of core) or in Spark SQL;
only the aggregates come back to pandas. The source must have the clean column names of
schema.py (customer, date, amount, and any optional ones) with typed values; rows
without a customer, a date or an amount are left out and counted per reason in the
input report. duckdb and pyspark are imported here only (the `scale` extra).
"""

from __future__ import annotations

import glob as globbing
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd

from .aggregate import aggregates_from
from .overflow import write_full_list
from .schema import COLUMNS, REQUIRED, InputError, issues_frame
from .segment import Aggregates, Segmentation, classify_aggregates
from .settings import Settings

def is_large_source(path: str | Path, sql: str | None = None, engine: str | None = None) -> bool:
    """Whether PATH (with --sql / --engine) goes through DuckDB or Spark instead of pandas."""
    text = str(path)
    return bool(sql or engine or Path(text).is_dir() or globbing.has_magic(text))


def _scan(path: str | Path) -> str:
    """The DuckDB scan of PATH and its `_row` expression (file number × 2**32 + row in the
    file, without a window over all rows, so the scan stays streaming)."""
    text = str(path)
    if text.lower().endswith((".csv", ".txt", ".csv.gz")):
        quoted = text.replace("'", "''")
        return f"read_csv_auto('{quoted}', header=true)", "row_number() OVER ()"
    pattern = str(Path(text) / "**" / "*.parquet") if Path(text).is_dir() else text
    files = sorted(globbing.glob(pattern, recursive=True))
    if not files:
        raise InputError(f"no Parquet files match {text}")
    if len(files) > 1024:
        raise InputError(f"{len(files):,} Parquet files match {text}; tierbook reads at most 1,024 (compact them)")
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    return (f"read_parquet({listed}, filename=true, file_row_number=true)",
            f"(list_position({listed}, filename) - 1) * 4294967296 + file_row_number")


def duckdb_aggregates(columns: set[str], settings: Settings, con) -> tuple[Aggregates, pd.DataFrame]:
    """Aggregate the view `raw` of the DuckDB connection CON (with a `_row` column) for SETTINGS."""
    def run(query: str) -> pd.DataFrame:
        return con.execute(query).fetchdf()

    def chunks(query: str) -> Iterator[pd.DataFrame]:
        result = con.execute(query)
        while len(frame := result.fetch_df_chunk(FETCH_VECTORS)):
            yield frame
    return _aggregate(columns, settings, run, "duckdb", lambda q: con.execute(q), chunks)


#: Vectors of 2,048 rows per frame when DuckDB's customer-months are fetched part by part
#: (about a million rows: few frames, each small beside the whole).
FETCH_VECTORS = 512


def _aggregate(columns: set[str], settings: Settings, run: Callable[[str], pd.DataFrame], dialect: str,
               define: Callable[[str], object],
               chunks: Callable[[str], Iterable[pd.DataFrame]] | None = None) -> tuple[Aggregates, pd.DataFrame]:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"the source has no column {', '.join(missing)} (found: {', '.join(sorted(columns))})")
    needs = {"units": "units", "profit": "margin"}.get(settings.criterion.value)
    if needs and needs not in columns:
        raise InputError(f"criterion {settings.criterion.value} needs a {needs} column, and the source has none")
    counts = run("SELECT " + ", ".join(f"sum(CASE WHEN {c} IS NULL THEN 1 ELSE 0 END) AS {c}" for c in REQUIRED)
                 + ", count(*) AS n FROM raw").iloc[0]
    keep = [c for c in COLUMNS if c in columns]
    define(f"CREATE OR REPLACE TEMP VIEW tx AS SELECT {', '.join(keep)}, _row FROM raw WHERE "
           + " AND ".join(f"{c} IS NOT NULL" for c in REQUIRED))
    issues = issues_frame()
    dropped = [(c, int(counts[c] or 0)) for c in REQUIRED if int(counts[c] or 0)]
    if dropped:
        issues = pd.DataFrame([{"sheet": "source", "row": 0, "column": c, "value": "",
                                "problem": f"{n:,} rows without a {c} are left out"} for c, n in dropped])
    if int(counts["n"]) - sum(n for _, n in dropped) <= 0:
        raise InputError("there are no usable transactions")
    as_of = None
    if settings.month is not None:
        as_of = str(pd.Period(settings.month, freq="M").end_time.date())
    return aggregates_from(set(keep), dialect, run, as_of, define, chunks), issues


#: DuckDB's memory budget (it spills to a temporary folder beyond it), so that the whole
#: run, pandas included, stays under 4 GB; TIERBOOK_DUCKDB_MEMORY overrides it ("6GB").
DUCKDB_MEMORY = "1500MB"


def configure_duckdb(con) -> None:
    """Settings of every tierbook DuckDB connection: no progress bar on our stdout, a
    memory budget with spilling to a temporary folder, no insertion order to keep."""
    import tempfile

    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{os.environ.get('TIERBOOK_DUCKDB_MEMORY', DUCKDB_MEMORY)}'")
    con.execute("SET preserve_insertion_order = false")
    spill = os.path.join(tempfile.gettempdir(), "tierbook-duckdb").replace("'", "''")
    con.execute(f"SET temp_directory = '{spill}'")


def connect_duckdb(path: str | Path, sql: str | None = None):
    """A DuckDB connection with the source registered as `raw` (with `_row`)."""
    import duckdb

    if sql:
        con = duckdb.connect(str(path), read_only=True)
        configure_duckdb(con)
        con.execute(f"CREATE TEMP VIEW raw AS SELECT *, row_number() OVER () AS _row FROM ({sql}) q")
    else:
        con = duckdb.connect()
        configure_duckdb(con)
        scan, row = _scan(path)
        con.execute(f"CREATE TEMP VIEW raw AS SELECT *, {row} AS _row FROM {scan}")
    return con


def _columns(con) -> set[str]:
    return {r[0] for r in con.execute("DESCRIBE raw").fetchall()}


def spark_session(master: str = "local[2]"):
    """A Spark session on MASTER (local[2], or a cluster URL such as spark://host:7077)."""
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName("tierbook")
            .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())


def spark_aggregates(frame, settings: Settings) -> tuple[Aggregates, pd.DataFrame]:
    """Aggregate a Spark DataFrame (with a `_row` column) for SETTINGS in Spark SQL."""
    spark = frame.sparkSession
    frame.createOrReplaceTempView("raw")

    def run(query: str) -> pd.DataFrame:
        return spark.sql(query).toPandas()
    return _aggregate(set(frame.columns), settings, run, "spark", lambda q: spark.sql(q))


def classify_source(path: str | Path, settings: Settings | None = None, sql: str | None = None,
                    engine: str | None = None, master: str | None = None,
                    excel_rows: int | None = None) -> Segmentation:
    """Classify the customers of a large source without reading its rows into pandas.
    EXCEL_ROWS: the data rows a sheet holds (default: overflow.sheet_capacity)."""
    from . import overflow

    settings = settings or Settings()
    excel_rows = overflow.sheet_capacity(None) if excel_rows is None else excel_rows
    if (engine or "duckdb") == "spark":
        from pyspark.sql import functions as F

        spark = spark_session(master or "local[2]")
        frame = spark.read.parquet(str(path)).withColumn("_row", F.monotonically_increasing_id())
        agg, issues = spark_aggregates(frame, settings)
    else:
        con = connect_duckdb(path, sql)
        try:
            agg, issues = duckdb_aggregates(_columns(con), settings, con)
        finally:
            con.close()
    if agg.rows > excel_rows:
        note = pd.DataFrame([{"sheet": "source", "row": 0, "column": "", "value": f"{agg.rows}",
                              "problem": f"the copy of the sales is left out: {agg.rows:,} rows exceed Excel's "
                                         f"limit of {excel_rows:,} rows per sheet"}])
        issues = pd.concat([issues, note], ignore_index=True).astype({"row": "int64"})
    return classify_aggregates(agg, settings, issues)


def segment_source(path: str | Path, out: str | Path, settings: Settings | None = None, sql: str | None = None,
                   engine: str | None = None, master: str | None = None, lang: str = "en",
                   progress: Callable[[str], None] = lambda m: None, excel_rows: int | None = None,
                   force: bool = False) -> Segmentation:
    """`tierbook segment` for a large source: classify and write the per-customer sheets
    (no copy of the sales; the input report says why when it would not fit in Excel).
    An existing OUT with sheets tierbook did not write is refused unless FORCE; what an
    earlier tierbook workbook OUT holds of the user's (the reactivation plan, the Mailing
    and Contact log sheets) is carried over, as targets.FileTarget does for every job."""
    from .targets import FileTarget, plan_sheet
    from .workbook import write_workbook

    target = FileTarget(out, force)
    target.check()
    progress(f"aggregating {path} with {engine or 'duckdb'}")
    result = classify_source(path, settings, sql=sql, engine=engine, master=master, excel_rows=excel_rows)
    progress(f"classified {len(result.customers):,} customers as of {result.analysis_month}")
    result = write_full_list(result, out)  # more customers than a sheet holds: all of them beside OUT
    plan = target.earlier_plan(lang)
    write_workbook(result, out, lang=lang, extra=[plan_sheet(plan, lang)] if plan else [],
                   kept=target.kept_sheets(lang), worklog=target.worklog())
    progress(f"wrote {out}")
    return result


def frame_aggregates(tx: pd.DataFrame, settings: Settings | None = None, engine: str = "duckdb",
                     spark=None) -> tuple[Aggregates, pd.DataFrame]:
    """The DuckDB (or Spark) aggregation of a clean transactions frame, whose index is the
    row number (for comparing the engines on the same data)."""
    settings = settings or Settings()
    frame = tx.assign(_row=tx.index.to_numpy())
    if engine == "spark":
        return spark_aggregates(spark.createDataFrame(frame).cache(), settings)  # made once, not per query
    import duckdb

    con = duckdb.connect()
    configure_duckdb(con)
    try:
        con.register("raw_frame", frame)
        con.execute("CREATE TEMP VIEW raw AS SELECT * FROM raw_frame")
        return duckdb_aggregates(set(frame.columns) - {"_row"}, settings, con)
    finally:
        con.close()
