"""Hostile and careless input: each kind refused with a message naming the
place (file, line, field), a non-zero exit and nothing changed. These tests
run in the release build and again under AddressSanitizer, which turns a
read of freed or uninitialised memory into a failure."""
import json
import os
import re

import pytest

from conftest import psql, run
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv, write_legacy_delivery
from pricefixtures import HEADER, offer_csv, offer_rows


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def errors(r):
    return [x["msg"] for x in r.log_lines() if x["level"] == "error"]


def loaded(db):
    return psql(db, "SELECT count(*) || ' ' || coalesce(sum(billed_cost), 0)"
                    " FROM finops.billing_line_items")


def delivery(tmp_path, **manifest_changes):
    """A good one-file delivery; manifest_changes replace manifest fields."""
    path = write_legacy_delivery(str(tmp_path / "cur"), "rep", "2026-10", "asm-1",
                                 [[legacy_row(1), legacy_row(2)]])
    m = json.load(open(path))
    m.update(manifest_changes)
    with open(path, "w") as f:
        json.dump(m, f)
    return path


# ---- memory safety -----------------------------------------------------------------

@pytest.mark.parametrize("start", ["2025-13-45", "2026-02-30T00:00:00Z", "not a date",
                                   "0000-01-01"])
def test_a_bad_billing_period_in_a_manifest_is_named_exactly(mdb, tmp_path, start):
    """The message is written before the JSON that holds the text is freed."""
    path = delivery(tmp_path, billingPeriod={"start": start})
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", path)
    assert r.code == 3, r.stderr
    assert errors(r)[0].startswith(f'{path}: billingPeriod.start "{start}" ')
    assert loaded(mdb) == "0 0"


def test_a_bad_metric_stream_value_names_its_instance(mdb, tmp_path):
    rec = {"metric_stream_name": "s", "account_id": "123456789012", "region": "eu-west-1",
           "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
           "dimensions": {"InstanceId": "i-0namedinthemessage"}, "timestamp": 1791158400000,
           "value": {"max": 1.0, "min": 0.0, "sum": 400.0, "count": 2.0}, "unit": "Percent"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(rec) + "\n")
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
            "--end", "2026-10-05T03:00:00Z", str(path))
    assert r.code == 3, r.stderr
    assert errors(r)[0] == (f"{path}:1: value.sum / value.count: CPUUtilization 200 is above"
                            " 100 (a percentage) (instance i-0namedinthemessage)")


@pytest.mark.parametrize("price,why", [("-1.5", "is negative"), ("-0", "is negative"),
                                       ("", "empty"), ("1,5", "is not a number")])
def test_a_bad_price_in_an_offer_file_says_why(mdb, tmp_path, price, why):
    rows = offer_rows("us-east-1")
    rows[0][HEADER.index("PricePerUnit")] = price
    path = tmp_path / "offer.csv"
    path.write_text(offer_csv("20261101000000", rows))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert r.code == 3, r.stderr
    assert f'offer.csv:7: column PricePerUnit: "{price}" {why}' in errors(r)[0]
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "0"


# ---- secrets -------------------------------------------------------------------------

SECRET = "Pw-4711-sekrit"


def dsn_spellings(db):
    host = os.environ["PGHOST"]
    return [
        f"dbname={db} password={SECRET}",
        f"postgresql:///{db}?host={host}&password={SECRET}",
        # percent-encoded keyword and value: libpq decodes both
        f"postgresql:///{db}?host={host}&%70assword={SECRET[:3]}%2D{SECRET[4:]}",
        f"postgresql://postgres:{SECRET}@/{db}?host={host}",
    ]


@pytest.mark.parametrize("k", range(4))
def test_a_password_in_any_spelling_shows_nowhere(mdb, hold_lock, k):
    """Process title, every log line, job_runs.arguments and error_message."""
    from conftest import start, wait_for
    import signal
    import time

    dsn = dsn_spellings(mdb)[k]
    holder = hold_lock(mdb, "finops:forecast_train:forecast")
    proc = start("forecast_train", "--lock-wait", "60", "--log-level", "debug", "--dsn", dsn)
    cmdline = f"/proc/{proc.pid}/cmdline"
    assert wait_for(lambda: os.path.exists(cmdline) and b"REDACTED" in open(cmdline, "rb").read())
    time.sleep(0.5)
    title = open(cmdline, "rb").read()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    holder.release()
    assert proc.returncode == 4, err
    for where in (title.decode(errors="replace"), out, err,
                  psql(mdb, "SELECT arguments::text || coalesce(error_message, '')"
                            " FROM finops.job_runs")):
        assert SECRET not in where and SECRET[4:] not in where, where
    assert "password=[REDACTED]" in psql(mdb, "SELECT arguments::text FROM finops.job_runs")


def test_a_malformed_uri_with_a_password_is_never_echoed(mdb):
    r = run("forecast_train", "--dsn", f"postgresql://u:{SECRET}@[::1/finops")
    assert r.code == 2, r.stderr
    assert SECRET not in r.stderr and SECRET not in r.stdout
    assert "[REDACTED]" in r.stderr


@pytest.mark.parametrize("opt,value,env", [("port", "abc", "PGPORT"), ("port", "99999", None),
                                           ("port", "5432,x", None),
                                           ("connect_timeout", "soon", "PGCONNECT_TIMEOUT"),
                                           ("keepalives_idle", "x", None)])
def test_a_bad_number_in_the_dsn_is_a_configuration_error_not_retried(mdb, opt, value, env):
    """libpq reads these only when it connects, where a bad one looks like a
    server that is down: exit 2 at once, naming the option."""
    r = run("forecast_train", "--dsn", f"dbname={mdb} {opt}={value}")
    assert r.code == 2, r.stderr
    assert "will retry" not in r.stderr
    assert errors(r)[0].startswith(f'invalid connection option {opt}="{value}": not a')
    if env:
        r = run("forecast_train", "--dsn", f"dbname={mdb}", env={env: value})
        assert r.code == 2, r.stderr
        assert errors(r)[0].startswith(f'invalid connection option {opt}="{value}"')


def test_text_logs_escape_control_characters(mdb, tmp_path):
    """A newline (or any control character) inside a message or field cannot
    forge a second log line."""
    name = tmp_path / "evil\nts=2026-01-01 error forecast_train: summary: succeeded\x1b[2J.csv"
    r = run("billing_ingest", "--dsn", f"dbname={mdb}", "--log-format", "text", str(name))
    assert r.code == 3
    import re
    for line in r.stderr.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) "
                        r"billing_ingest: ", line), line
    assert "\x1b" not in r.stderr
    assert "evil\\nts=2026-01-01" in r.stderr


# ---- paths and duplicates ------------------------------------------------------------

def ingest(db, *args, timeout=120):
    return run("billing_ingest", "--dsn", f"dbname={db}", *args, timeout=timeout)


@pytest.mark.parametrize("keys,why", [
    (["../../../../../../../../etc/passwd"], 'has a "." or ".." segment'),
    (["rep/20261001-20261101/asm-1/../../../../x.csv.gz"], 'has a "." or ".." segment'),
    (["s3://billing-bucket/rep/../../etc/passwd"], 'has a "." or ".." segment'),
    (["rep/./20261001-20261101/asm-1/rep-1.csv.gz"], 'has a "." or ".." segment'),
    (["rep/20261001-20261101/asm-1/rep-1.csv.gz\n"], "holds a control character"),
])
def test_report_keys_never_leave_the_delivery(mdb, tmp_path, keys, why):
    path = delivery(tmp_path, reportKeys=keys)
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert why in errors(r)[0]
    assert loaded(mdb) == "0 0"


def test_a_key_found_only_outside_the_report_folder_is_refused(mdb, tmp_path):
    """Keys are bucket-relative and looked up above the manifest: a file that
    matches only outside the billing period's folder is refused."""
    path = delivery(tmp_path, reportKeys=["stolen.csv"])
    outside = tmp_path / "cur" / "stolen.csv"
    write_csv(outside, LEGACY_COLUMNS, [legacy_row(9, cost="1000")])
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert "is outside the report's folder" in errors(r)[0]
    assert loaded(mdb) == "0 0"
    # nor through a link inside the delivery
    link = os.path.join(os.path.dirname(path), "asm-1", "link.csv")
    os.symlink(outside, link)
    path = delivery(tmp_path, reportKeys=["rep/20261001-20261101/asm-1/link.csv"])
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert "is outside the report's folder" in errors(r)[0]


@pytest.mark.parametrize("aid", ["../..", "..", "a/b", "x" * 257, "", "asm 1"])
def test_an_assembly_id_that_could_not_name_a_folder_is_refused(mdb, tmp_path, aid):
    path = delivery(tmp_path, assemblyId=aid)
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert "is not an assembly id" in errors(r)[0] or "no assemblyId" in errors(r)[0]
    assert loaded(mdb) == "0 0"


def test_a_file_listed_twice_is_refused(mdb, tmp_path):
    key = "rep/20261001-20261101/asm-1/rep-1.csv.gz"
    path = delivery(tmp_path, reportKeys=[key, key])
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert "is listed twice" in errors(r)[0]
    assert loaded(mdb) == "0 0"


def test_a_file_and_its_gzip_copy_side_by_side_are_refused(mdb, tmp_path):
    d = tmp_path / "exports"
    d.mkdir()
    write_csv(d / "oct.csv", LEGACY_COLUMNS, [legacy_row(1), legacy_row(2)])
    write_csv(d / "oct.csv.gz", LEGACY_COLUMNS, [legacy_row(1), legacy_row(2)], gz=True)
    r = ingest(mdb, str(d))
    assert r.code == 3, r.stderr
    assert "and its gzip copy" in errors(r)[0]
    assert loaded(mdb) == "0 0"


@pytest.mark.parametrize("dup", ["lineItem/UnblendedCost", "lineitem/unblendedcost",
                                 "line_item_unblended_cost", "resourceTags/user:team"])
def test_a_column_named_twice_in_a_header_is_refused(mdb, tmp_path, dup):
    cols = LEGACY_COLUMNS + [dup]
    rows = [dict(legacy_row(1), **{dup: "7"})]
    path = write_csv(tmp_path / "dup.csv", cols, rows)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    assert "appears twice in the header" in errors(r)[0]
    assert loaded(mdb) == "0 0"


def test_tag_columns_that_differ_only_in_case_are_two_tags(mdb, tmp_path):
    """AWS tag keys are case-sensitive: Name and name are two tags."""
    cols = LEGACY_COLUMNS + ["resourceTags/user:Name", "resourceTags/user:name"]
    rows = [dict(legacy_row(1), **{"resourceTags/user:Name": "web",
                                   "resourceTags/user:name": "old"})]
    path = write_csv(tmp_path / "tags.csv", cols, rows)
    r = ingest(mdb, str(path))
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT (tags->>'user:Name') || (tags->>'user:name') FROM"
                     " finops.billing_line_items") == "webold"


def test_an_offer_file_naming_a_column_twice_is_refused(mdb, tmp_path):
    header = HEADER + ["PricePerUnit"]
    rows = [r + ["9.99"] for r in offer_rows("us-east-1")]
    path = tmp_path / "offer.csv"
    path.write_text(offer_csv("20261101000000", rows, header=header))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert r.code == 3, r.stderr
    assert 'column "PricePerUnit" appears twice in the header (columns 10 and 92)' in \
        errors(r)[0]


def test_a_manifest_over_64_mb_says_it_is_too_large(mdb, tmp_path):
    path = delivery(tmp_path)
    m = json.load(open(path))
    m["padding"] = "x" * (64 << 20)
    with open(path, "w") as f:
        json.dump(m, f)
    r = ingest(mdb, path)
    assert r.code == 3, r.stderr
    assert "larger than 64 MB: not a CUR manifest" in errors(r)[0]


# ---- truncation and value ranges -----------------------------------------------------

def test_an_offer_file_cut_at_a_line_boundary_keeps_the_region(mdb, tmp_path):
    """Nothing in a plain CSV says it was cut between two lines: a region that
    would lose a large share of its prices is refused as a file cut short."""
    full = tmp_path / "full.csv"
    full.write_text(offer_csv("20261101000000", offer_rows("us-east-1")))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(full))
    assert r.code == 0, r.stderr
    before = psql(mdb, "SELECT count(*) FROM finops.instance_prices")
    assert before == "13"
    lines = offer_csv("20261115000000", offer_rows("us-east-1", factor=1.1)).splitlines(True)
    cut = tmp_path / "cut.csv"
    cut.write_text("".join(lines[:-10]))          # ends on a whole line
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(cut))
    assert r.code == 3, r.stderr
    assert "region us-east-1 would go from 13 prices to 9 (31% fewer): a file cut short?" in \
        errors(r)[0]
    assert psql(mdb, "SELECT count(*) || ' ' || min(offer_version) FROM"
                     " finops.instance_prices") == "13 20261101000000"
    # an operator who knows the region shrank says so
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(cut),
            "--force")
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "9"


def test_a_gzip_file_cut_anywhere_is_detected(mdb, tmp_path):
    import gzip
    data = gzip.compress(offer_csv("20261101000000", offer_rows("us-east-1")).encode())
    for at in (len(data) - 4, len(data) // 2):        # in the trailer, in the stream
        cut = tmp_path / f"cut{at}.csv.gz"
        cut.write_bytes(data[:at])
        r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(cut))
        assert r.code == 3, r.stderr
        assert "gzip" in errors(r)[0]
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "0"


@pytest.mark.parametrize("column,value,why", [
    ("Currency", "usd", "is not a currency code"),
    ("Currency", "US$", "is not a currency code"),
    ("Memory", "1e400 GiB", "is not an amount of GiB"),
    ("Memory", "0 GiB", "is not an amount of GiB"),
    ("Memory", "2000000 GiB", "is not an amount of GiB"),
    ("vCPU", "99999999999999999999", "is not a whole number of vCPUs"),
    ("GPU", "100000", "is not a GPU count"),
    ("PricePerUnit", "1e400", "is out of range"),
    ("EffectiveDate", "0000-09-01", "is before 1970"),
])
def test_offer_values_out_of_range_are_refused(mdb, tmp_path, column, value, why):
    rows = offer_rows("us-east-1")
    rows[2][HEADER.index(column)] = value
    path = tmp_path / "offer.csv"
    path.write_text(offer_csv("20261101000000", rows))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert r.code == 3, r.stderr
    assert f'offer.csv:9: column {column}: "{value}" {why}' in errors(r)[0]
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "0"


@pytest.mark.parametrize("column,value,why", [
    ("lineItem/UnblendedCost", "1e400", "is out of range"),
    ("lineItem/UnblendedCost", "1e-60", "has more than 45 decimal places"),
    ("lineItem/UsageAmount", "1" + "0" * 40, "is out of range"),
    ("lineItem/UsageStartDate", "0000-10-01T00:00:00Z", "is before 1970"),
    ("bill/BillingPeriodStartDate", "0000-10-01T00:00:00Z", "is before 1970"),
    ("lineItem/CurrencyCode", "usd", "is not a currency code"),
])
def test_billing_values_out_of_range_name_file_line_and_column(mdb, tmp_path, column, value,
                                                               why):
    rows = [legacy_row(1), dict(legacy_row(2), **{column: value})]
    path = write_csv(tmp_path / "bad.csv", LEGACY_COLUMNS, rows)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    assert errors(r)[0].startswith(f'{path}:3: column {column}: "{value}" {why}'), errors(r)
    assert loaded(mdb) == "0 0"


def test_a_usage_timestamp_before_1970_is_refused(mdb, tmp_path):
    rec = {"metric_stream_name": "s", "account_id": "123456789012", "region": "eu-west-1",
           "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
           "dimensions": {"InstanceId": "i-0a"}, "timestamp": -62167219200000,
           "value": {"max": 1.0, "min": 0.0, "sum": 1.0, "count": 1.0}, "unit": "Percent"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(rec) + "\n")
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "0000-01-01T00:00:00Z",
            "--end", "2026-10-05T03:00:00Z", str(path))
    assert r.code == 2, r.stderr
    assert "is before 1970" in errors(r)[0]


def test_a_usage_window_is_bounded(mdb, tmp_path):
    """--end 9999-01-01 would create 1,200 empty partitions in one transaction."""
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-01T00:00:00Z",
            "--end", "9999-01-01T00:00:00Z", "/dev/null")
    assert r.code == 2, r.stderr
    assert "a window of more than 93 days" in errors(r)[0]
    assert psql(mdb, "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid ="
                     " i.inhparent WHERE c.relname = 'instance_usage_hourly'") == "0"
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-01T00:00:00Z",
            "--end", "2027-01-02T00:00:00Z", "/dev/null")
    assert r.code == 99, r.stderr


# ---- concurrency and locks -----------------------------------------------------------

def test_a_run_on_a_source_being_loaded_exits_4_at_once(mdb, tmp_path):
    """The first run holds the (source, period) lock and, inside its
    transaction, the source's row: a second run finds the lock held and exits
    4 at once, instead of waiting for the whole first load on the row."""
    import subprocess
    import time

    path = write_csv(tmp_path / "oct.csv", LEGACY_COLUMNS, [legacy_row(1), legacy_row(2)])
    assert ingest(mdb, str(path)).code == 0
    first = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", mdb], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    first.stdin.write("SELECT pg_advisory_lock(hashtextextended("
                      "'finops:billing_ingest:aws_cur/111122223333/default/2026-10', 0));\n"
                      "BEGIN; SELECT count(*) FROM finops.billing_sources FOR UPDATE;\n"
                      "\\echo held\n")
    first.stdin.flush()
    while first.stdout.readline().strip() != "held":
        pass
    try:
        began = time.monotonic()
        r = run("billing_ingest", "--dsn", f"dbname={mdb}", "--force", str(path), timeout=30)
        assert r.code == 4, r.stderr
        assert time.monotonic() - began < 5
        assert "another billing_ingest run is working on scope" in errors(r)[0]
    finally:
        first.stdin.close()
        first.wait(timeout=30)


def test_two_sources_of_a_new_period_loaded_at_once_never_deadlock(mdb, tmp_path):
    """Each run creates the new period's partition for its own source."""
    from conftest import start

    for k, period in enumerate(["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]):
        paths = []
        for payer in ("111111111111", "222222222222"):
            rows = [legacy_row(n, period=period, **{"bill/PayerAccountId": payer})
                    for n in range(1, 200)]
            paths.append(write_csv(tmp_path / f"{payer}-{period}.csv", LEGACY_COLUMNS, rows))
        procs = [start("billing_ingest", "--dsn", f"dbname={mdb}", "--lock-wait", "30", str(p))
                 for p in paths]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items") == str(5 * 2 * 199)


def test_the_lock_holder_is_named_even_to_a_role_that_cannot_see_its_details(mdb, hold_lock):
    role = "fo_limited_" + mdb[-6:]
    psql(mdb, f"CREATE ROLE {role} LOGIN IN ROLE finops_writer")
    try:
        hold_lock(mdb, "finops:forecast_train:forecast")     # held by postgres
        r = run("forecast_train", "--dsn", f"dbname={mdb} user={role}")
        assert r.code == 4, r.stderr
        msg = errors(r)[0]
        assert "held by backend pid " in msg and "(role postgres; its application and start" \
            " are not visible to this role: grant it pg_read_all_stats" in msg
        assert "since )" not in msg
        # a role that may see them gets them
        r = run("forecast_train", "--dsn", f"dbname={mdb}")
        assert r.code == 4
        assert re.search(r"\(role postgres\), application psql, from local socket, connected"
                         r" since \d{4}-\d\d-\d\dT", errors(r)[0]), errors(r)[0]
    finally:
        psql(mdb, f"DROP OWNED BY {role}; DROP ROLE {role}")


# ---- exit classes and records --------------------------------------------------------

def write_bytes_csv(path, columns, rows, encoding="latin-1"):
    import csv as _csv
    import io
    buf = io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def last_run(db):
    return psql(db, "SELECT status || '|' || exit_code || '|' || coalesce(error_message, '')"
                    " FROM finops.job_runs ORDER BY run_id DESC LIMIT 1")


@pytest.mark.parametrize("column", ["lineItem/LineItemDescription", "resourceTags/user:team",
                                    "product/ProductName"])
def test_text_that_is_not_utf8_is_bad_input_wherever_it_is(mdb, tmp_path, column):
    """One rule for descriptions, tags and names: exit 3 naming the file, line
    and column, and the run records its end though its message quotes the bytes."""
    rows = [legacy_row(1), dict(legacy_row(2), **{column: "caf\xe9 cr\xe8me"})]
    path = write_bytes_csv(tmp_path / "latin1.csv", LEGACY_COLUMNS, rows)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    assert errors(r)[0].startswith(f"{path}:3: column {column}: ") and \
        errors(r)[0].endswith("is not valid UTF-8"), errors(r)[0]
    status, code, msg = last_run(mdb).split("|", 2)
    assert (status, code) == ("failed", "3")
    assert "caf\ufffd cr\ufffdme" in msg
    assert loaded(mdb) == "0 0"


def test_a_header_that_is_not_utf8_is_bad_input(mdb, tmp_path):
    cols = LEGACY_COLUMNS + ["resourceTags/user:\xe9quipe"]
    path = write_bytes_csv(tmp_path / "h.csv", cols, [legacy_row(1)])
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    assert f"{path}:1: header column {len(cols)} is not valid UTF-8" == errors(r)[0]


def test_an_offer_value_that_is_not_utf8_names_its_line_and_column(mdb, tmp_path):
    rows = offer_rows("us-east-1")
    rows[1][HEADER.index("Physical Processor")] = "Intel\xae Xeon\xae"
    path = tmp_path / "offer.csv"
    path.write_bytes(offer_csv("20261101000000", rows).encode("latin-1"))
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert r.code == 3, r.stderr
    assert "offer.csv:8: column Physical Processor: " in errors(r)[0]
    assert errors(r)[0].endswith("is not valid UTF-8")


def test_a_message_cut_inside_a_character_is_still_recorded(mdb, tmp_path):
    """Values are quoted in messages to a length: cut inside a multi-byte
    character, the message must still be valid text for job_runs."""
    rows = [legacy_row(1), dict(legacy_row(2), **{"lineItem/CurrencyCode": "\u20ac" * 60})]
    path = write_csv(tmp_path / "euro.csv", LEGACY_COLUMNS, rows)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    status, code, msg = last_run(mdb).split("|", 2)
    assert (status, code) == ("failed", "3")
    assert "is not a currency code" in msg
    # the next run does not find it "killed, crashed or lost"
    assert ingest(mdb, str(write_csv(tmp_path / "ok.csv", LEGACY_COLUMNS,
                                     [legacy_row(1)]))).code == 0
    assert psql(mdb, "SELECT count(*) FROM finops.job_runs WHERE status = 'abandoned'") == "0"


def test_an_assembly_id_is_current_only_for_its_own_report(mdb, tmp_path):
    """A report never loaded whose assemblyId matches another report's
    current load is loaded, not skipped as already loaded."""
    a = write_legacy_delivery(str(tmp_path / "a"), "rep-a", "2026-10", "same-id",
                              [[legacy_row(1), legacy_row(2)]])
    b = write_legacy_delivery(str(tmp_path / "b"), "rep-b", "2026-10", "same-id",
                              [[legacy_row(3)]])
    assert ingest(mdb, a).code == 0
    r = ingest(mdb, b)
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT string_agg(s.report_name || ':' || l.rows_loaded, ','"
                     " ORDER BY s.report_name) FROM finops.billing_loads l"
                     " JOIN finops.billing_sources s USING (source_id)") == "rep-a:2,rep-b:1"
    assert ingest(mdb, b).code == 99


# ---- memory bounds -------------------------------------------------------------------

def gzip_with_a_huge_field(path, mb):
    """A CUR whose second row's description is mb MiB of one letter, gzipped
    (it shrinks a thousandfold), written without holding it in memory."""
    import zlib
    header = ",".join(LEGACY_COLUMNS) + "\n"
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(comp.compress(header.encode()))
        row = legacy_row(1)
        f.write(comp.compress((",".join(row[c] for c in LEGACY_COLUMNS) + "\n").encode()))
        row = legacy_row(2)
        i = LEGACY_COLUMNS.index("lineItem/LineItemDescription")
        f.write(comp.compress((",".join(row[c] for c in LEGACY_COLUMNS[:i]) + ",").encode()))
        chunk = b"x" * (1 << 20)
        for _ in range(mb):
            f.write(comp.compress(chunk))
        f.write(comp.compress(("," + ",".join(row[c] for c in LEGACY_COLUMNS[i + 1:])
                               + "\n").encode()))
        f.write(comp.flush())
    return path


def test_a_huge_field_is_refused_in_bounded_memory(mdb, tmp_path):
    """300 MiB of one field in a 300 kB gzip: refused before memory grows with it."""
    import subprocess
    import sys
    from conftest import bindir

    path = gzip_with_a_huge_field(tmp_path / "huge.csv.gz", 300)
    assert os.path.getsize(path) < 2 << 20
    # a fresh process, so the peak is this run's alone
    measure = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.stderr.write(p.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", measure,
                           os.path.join(bindir(), "billing_ingest"), "--dsn", f"dbname={mdb}",
                           str(path)], capture_output=True, text=True, timeout=300)
    code, peak_kb = (int(x) for x in proc.stdout.split())
    assert code == 3, proc.stderr
    assert "a record longer than 16 MiB" in proc.stderr
    # 30 MB in a release build; ASan keeps freed memory in quarantine (256 MB)
    limit_mb = 600 if os.environ.get("FINOPS_SANITIZED") == "1" else 100
    assert peak_kb < limit_mb * 1024, f"peak RSS {peak_kb} kB"
    assert loaded(mdb) == "0 0"


def test_a_field_over_1_mib_is_refused_naming_its_line(mdb, tmp_path):
    rows = [legacy_row(1), dict(legacy_row(2), **{"lineItem/LineItemDescription":
                                                  "y" * ((1 << 20) + 1)})]
    path = write_csv(tmp_path / "wide.csv", LEGACY_COLUMNS, rows)
    r = ingest(mdb, str(path))
    assert r.code == 3, r.stderr
    i = LEGACY_COLUMNS.index("lineItem/LineItemDescription") + 1
    assert errors(r)[0] == f"{path}:3: field {i} is longer than 1 MiB: not a billing or" \
                           " price value"


def test_a_metric_stream_line_over_4_mib_is_refused(mdb, tmp_path):
    path = tmp_path / "long.json"
    path.write_text('{"namespace": "' + "z" * (5 << 20) + '"}\n')
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
            "--end", "2026-10-05T03:00:00Z", str(path))
    assert r.code == 3, r.stderr
    assert "a line longer than 4194304 bytes" in errors(r)[0]


# ---- many billing accounts -----------------------------------------------------------

FOCUS_COLS = ["BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
              "BillingPeriodEnd", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd",
              "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ProviderName",
              "ServiceName", "SubAccountId"]


def focus_rows(accounts, cost):
    return [[f"acct{i:05d}", "n", "USD", "2026-10-01 00:00:00", "2026-11-01 00:00:00", "Usage",
             "2026-10-02 00:00:00", "2026-10-03 00:00:00", cost, cost, cost, cost, "Acme",
             "Svc", f"sub{i}"] for i in accounts]


def test_a_file_of_thousands_of_billing_accounts_loads_and_is_replaced_whole(mdb, tmp_path):
    """A reseller's FOCUS export: one partition for all of them (PostgreSQL's
    lock table holds a few thousand locks, not one a source, and a partition's
    list of values one catalog row: 3,000 accounts are past both; 10,000 were
    measured by hand), replaced account by account or all at once like any
    other load."""
    big = write_csv(tmp_path / "all.csv", FOCUS_COLS, focus_rows(range(3000), "1.25"))
    r = ingest(mdb, "--report-name", "reseller", str(big), timeout=300)
    assert r.code == 0, r.stderr[-3000:]
    assert loaded(mdb) == "3000 3750.00"
    assert psql(mdb, "SELECT count(*) FROM finops.billing_loads WHERE status = 'current'") == \
        "3000"
    parts = "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN" \
            " pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent" \
            " WHERE p.relname = 'billing_line_items_p20261001'"
    assert psql(mdb, parts) == "billing_line_items_p20261001_default"
    assert ingest(mdb, "--report-name", "reseller", str(big), timeout=300).code == 99
    # one account restated on its own: its rows leave the shared partition
    one = write_csv(tmp_path / "one.csv", FOCUS_COLS, focus_rows([42], "100.00") * 2)
    r = ingest(mdb, "--report-name", "reseller", str(one))
    assert r.code == 0, r.stderr
    assert loaded(mdb) == "3001 3948.75"          # 2,999 x 1.25 + 2 x 100
    assert psql(mdb, "SELECT count(*) FROM finops.billing_line_items_p20261001_default"
                     " WHERE billing_account_id = 'acct00042'") == "0"
    assert "_s" in psql(mdb, parts)
    # the whole export again: the account's own partition goes, nothing counts twice
    r = ingest(mdb, "--report-name", "reseller", "--force", str(big), timeout=300)
    assert r.code == 0, r.stderr[-3000:]
    assert loaded(mdb) == "3000 3750.00"
    assert psql(mdb, parts) == "billing_line_items_p20261001_default"
    assert psql(mdb, "SELECT count(*) FROM finops.billing_loads WHERE status = 'current'") == \
        "3000"


def test_long_assembly_ids_are_compared_whole(mdb, tmp_path):
    """Two assembly ids of 200 characters that differ only at the end are two
    assemblies (they were cut at 159 and compared equal)."""
    first = "a" * 199 + "1"
    path = write_legacy_delivery(str(tmp_path / "x"), "rep", "2026-10", first,
                                 [[legacy_row(1)]])
    assert ingest(mdb, path).code == 0
    second = "a" * 199 + "2"
    path = write_legacy_delivery(str(tmp_path / "y"), "rep", "2026-10", second,
                                 [[legacy_row(1, cost="5.00")]])
    r = ingest(mdb, path)
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT assembly_id FROM finops.billing_loads WHERE status = 'current'") \
        == second
    assert loaded(mdb) == "1 5.00"


def test_a_record_of_no_samples_must_still_hold_possible_values(mdb, tmp_path):
    """Found by fuzz_metric_line: a count of 0 with a maximum of -99 passed."""
    path = tmp_path / "zero.json"
    path.write_text('{"namespace": "AWS/EC2", "metric_name": "NetworkIn","dimensions":'
                    ' {"InstanceId":"i-5ab"},"timestamp":22,"value": {"max": -99, "sum":0,'
                    '"count":0}}\n')
    r = run("usage_ingest", "--dsn", f"dbname={mdb}", "--start", "2026-10-05T00:00:00Z",
            "--end", "2026-10-05T03:00:00Z", str(path))
    assert r.code == 3, r.stderr
    assert errors(r)[0] == f"{path}:1: value.max: NetworkIn -99 is negative (instance i-5ab)"
