"""What SQLite alone (no Berth code) spends on the activity record of a write: a transaction
updating one row of 64, against the same with two records (1.4 kB of JSON each) in the
activity table, with no index, with the six list indexes, and with them and the chain's
triggers, as berthd writes them. WAL, synchronous=NORMAL, temp_store=MEMORY, 32 MiB cache, as
berthd opens its file. Prints microseconds per transaction and the ratio to the bare update.

Usage: taskset -c 0 python3 bench/sqlite-floor.py [transactions per case, default 10000]
"""
import json, os, random, sqlite3, sys, tempfile, time, uuid

INDEXES = ["sub, t, seq", "sub, rg, t, seq", "rk, t, seq", "sub, prov, t, seq", "corr, t", "sub, caller, t, seq"]
COLUMNS = "seq integer primary key, t int, sub text, rg text, rk text, prov text, corr text, caller text, status text, data text, hash text"


def database(path, indexes, triggers):
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=wal", "synchronous=normal", "temp_store=memory", "cache_size=-32768"):
        db.execute(f"pragma {pragma}")
    db.execute("create table reg(id integer primary key, tags text)")
    db.executemany("insert into reg values(?, '{}')", [(i,) for i in range(64)])
    db.execute(f"create table ev({COLUMNS})")
    for i, cols in enumerate(INDEXES if indexes else []):
        db.execute(f"create index ix_{i} on ev({cols})")
    db.execute("create table head(id integer primary key, seq int not null, hash text not null)")
    db.execute("insert into head values(1, 0, '')")
    if triggers:
        db.execute("create trigger follows before insert on ev when new.seq <> (select seq from head where id = 1) + 1 "
                   "begin select raise(abort, 'moved'); end")
        db.execute("create trigger advances after insert on ev begin update head set seq = new.seq, hash = new.hash where id = 1; end")
    return db


def run(n, records, indexes=False, triggers=False):
    with tempfile.TemporaryDirectory() as d:
        db = database(os.path.join(d, "floor.db"), indexes, triggers)
        data = json.dumps({"event": "x" * 1400})
        seq, start = 0, time.perf_counter()
        for i in range(n):
            db.execute("begin")
            db.execute("update reg set tags = ? where id = ?", (str(i), random.randrange(64)))
            if records:
                corr = str(uuid.uuid4())
                rk = f"/subscriptions/s/resourcegroups/bench/providers/microsoft.containerregistry/registries/r{random.randrange(64)}"
                rows = []
                for status in ("Started", "Succeeded"):
                    seq += 1
                    rows.append((seq, time.time_ns() // 1000, "s", "bench", rk, "microsoft.containerregistry", corr,
                                 "owner@berth.local", status, data, f"h{seq}"))
                db.execute(f"insert into ev values {', '.join(['(' + ', '.join('?' * 11) + ')'] * 2)}",
                           [v for r in rows for v in r])
                if not triggers:
                    db.execute("update head set seq = ?, hash = ? where id = 1", (seq, f"h{seq}"))
            db.execute("commit")
        db.close()
        return (time.perf_counter() - start) / n * 1e6


n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
print(f"SQLite {sqlite3.sqlite_version}, {n} transactions per case")
bare = run(n, False)
print(f"| update, no record | {bare:.1f} µs | 1.00 |")
for label, kw in [("update + 2 records, no index", {}), ("update + 2 records, six list indexes", {"indexes": True}),
                  ("update + 2 records, six list indexes, chain triggers", {"indexes": True, "triggers": True})]:
    t = run(n, True, **kw)
    print(f"| {label} | {t:.1f} µs | {bare / t:.2f} |")
