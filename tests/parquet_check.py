"""Reads bttrace's Parquet tables with pyarrow and DuckDB, no schema given, and checks them
against the CSV tables of the same run: python3 tests/parquet_check.py CSV_DIR PARQUET_DIR.
With --same-schema PARQUET_DIR..., checks that every table has the same schema in each run.
Run by tests/parquet.rs."""
import csv
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

TABLES = ["captures", "tests", "flows", "rsts", "messages"]
con = duckdb.connect()


def same_schema(dirs):
    """Each table has the same column names and types in every run, with pyarrow and with
    DuckDB, whatever the captures held (no BitTorrent, no RST, no Glasnost test, a failed
    file), and no column is one of DuckDB's reserved words."""
    reserved = {r[0] for r in con.execute(
        "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'"
    ).fetchall()}
    for table in TABLES:
        arrow, duck = [], []
        for d in dirs:
            s = ds.dataset(Path(d) / table, format="parquet").schema
            arrow.append([(f.name, str(f.type)) for f in s])
            duck.append(con.execute(
                f"describe select * from read_parquet('{d}/{table}/*.parquet')").fetchall())
        for d, a, k in zip(dirs, arrow, duck):
            assert a == arrow[0], (table, d, [x for x in a if x not in arrow[0]])
            assert [r[:2] for r in k] == [r[:2] for r in duck[0]], (table, d)
        bad = [n for n, _ in arrow[0] if n in reserved]
        assert not bad, (table, bad)
        # No column falls back to text for want of values: DuckDB reads the types written.
        types = dict(r[:2] for r in duck[0])
        assert types.get("rsts", "BIGINT") == "BIGINT", (table, types.get("rsts"))
        if table == "flows":
            assert types["preamble_bytes_up"] == "BIGINT", types["preamble_bytes_up"]
            assert types["blocking_signal"] == "BOOLEAN", types["blocking_signal"]
            assert types["tcp_stream"] == "BIGINT"
            assert types["start_time"] == "TIMESTAMP WITH TIME ZONE"
    print(f"the same schema in {len(dirs)} runs: {', '.join(TABLES)}")


if sys.argv[1] == "--same-schema":
    same_schema(sys.argv[2:])
    sys.exit(0)

csv_dir, pq_dir = Path(sys.argv[1]), Path(sys.argv[2])
for table in TABLES:
    rows = list(csv.DictReader(open(csv_dir / f"{table}.csv", newline="")))
    header = next(csv.reader(open(csv_dir / f"{table}.csv", newline="")))
    t = ds.dataset(pq_dir / table, format="parquet").to_table()
    assert t.schema.names == header, (table, t.schema.names, header)
    assert t.num_rows == len(rows), (table, t.num_rows, len(rows))
    n = con.execute(f"select count(*) from read_parquet('{pq_dir / table}/*.parquet')").fetchone()[0]
    assert n == len(rows), (table, n, len(rows))
    cols = {r[0]: r[1] for r in con.execute(
        f"describe select * from read_parquet('{pq_dir / table}/*.parquet')").fetchall()}
    assert list(cols) == header, (table, list(cols))
    # The capture column is the same text in the same order.
    got = [c for c in t.column("capture").to_pylist()]
    assert got == [r["capture"] for r in rows], table

caps = ds.dataset(pq_dir / "captures", format="parquet").to_table()
s = caps.schema
assert s.field("first_time").type == pa.timestamp("us", tz="UTC"), s.field("first_time").type
assert s.field("frames").type == pa.int64()
assert s.field("gzip").type == pa.bool_()
assert s.field("test_date").type == pa.date32()
assert pa.types.is_dictionary(s.field("block_bt_app_port").type)
assert pa.types.is_list(s.field("blocking_basis").type)

cols = {r[0]: r[1] for r in con.execute(
    f"describe select * from read_parquet('{pq_dir}/captures/*.parquet')").fetchall()}
assert cols["first_time"] == "TIMESTAMP WITH TIME ZONE", cols["first_time"]
assert cols["frames"] == "BIGINT" and cols["gzip"] == "BOOLEAN" and cols["test_date"] == "DATE"
assert cols["blocking_basis"] == "VARCHAR[]", cols["blocking_basis"]

# A query in DuckDB equals the same sum over the CSV rows: forged RSTs per verdict cell, and
# mean goodput of completed BitTorrent transfers.
want = {}
for r in csv.DictReader(open(csv_dir / "captures.csv", newline="")):
    k = r["block_bt_app_port"] or None
    want[k] = want.get(k, 0) + int(r["rsts_forged"])
got = dict(con.execute(f"""select block_bt_app_port, sum(rsts_forged)
    from read_parquet('{pq_dir}/captures/*.parquet') group by 1""").fetchall())
assert got == want, (got, want)
speeds = [float(r["goodput_bps"]) for r in csv.DictReader(open(csv_dir / "tests.csv", newline=""))
          if r["kind"] == "bittorrent" and r["outcome"] == "completed" and r["goodput_bps"]]
mean = con.execute(f"""select avg(goodput_bps) from read_parquet('{pq_dir}/tests/*.parquet')
    where kind = 'bittorrent' and outcome = 'completed'""").fetchone()[0]
assert speeds and abs(mean - sum(speeds) / len(speeds)) <= 0.5, (mean, speeds)
# pandas through pyarrow, as a notebook would.
df = caps.to_pandas()
assert str(df["first_time"].dtype) == "datetime64[us, UTC]", df["first_time"].dtype
print(f"pyarrow and duckdb agree: {caps.num_rows} captures")
