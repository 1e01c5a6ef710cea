"""rightsizing_calc on hand-worked scenarios: each expected finding, type and
saving is worked out here from the fixture's numbers (prices per hour x 730).

Window: the 14 days before 2026-10-15T00:00Z, every instance billed all of it
(730 hours a month) unless a test says otherwise. Catalog (us-east-1, Linux,
shared tenancy, on-demand $/h): m6i.large 2 vCPU/8 GiB 0.096, m6i.xlarge
4/16 0.192, m6i.2xlarge 8/32 0.384, c6i.large 2/4 0.085, c6i.xlarge 4/8 0.17,
r6i.large 2/16 0.126, m6g.large (arm) 2/8 0.077, m6g.xlarge (arm) 4/16 0.154,
m5.large (previous generation) 2/8 0.090, c6id.xlarge (local NVMe) 4/8
0.2016, g4dn.xlarge (1 GPU) 4/16 0.526, g4dn.2xlarge (1 GPU) 8/32 0.752.
"""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from conftest import psql, run, shard_of, start
from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

END = datetime(2026, 10, 15, tzinfo=timezone.utc)
START = END - timedelta(days=14)

TYPES = {  # type: (vcpu, GiB, gpu, arch, network, storage, current, price)
    "m6i.large": (2, 8, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.096"),
    "m6i.xlarge": (4, 16, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.192"),
    "m6i.2xlarge": (8, 32, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.384"),
    "c6i.large": (2, 4, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.085"),
    "c6i.xlarge": (4, 8, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.17"),
    "r6i.large": (2, 16, 0, "x86_64", "Up to 12500 Megabit", "EBS only", True, "0.126"),
    "m6g.large": (2, 8, 0, "arm64", "Up to 12500 Megabit", "EBS only", True, "0.077"),
    "m6g.xlarge": (4, 16, 0, "arm64", "Up to 12500 Megabit", "EBS only", True, "0.154"),
    "m5.large": (2, 8, 0, "x86_64", "Up to 10 Gigabit", "EBS only", False, "0.090"),
    "c6id.xlarge": (4, 8, 0, "x86_64", "Up to 12500 Megabit", "1 x 237 NVMe SSD", True,
                    "0.2016"),
    "g4dn.xlarge": (4, 16, 1, "x86_64", "Up to 25 Gigabit", "1 x 125 NVMe SSD", True, "0.526"),
    "g4dn.2xlarge": (8, 32, 1, "x86_64", "Up to 25 Gigabit", "1 x 225 NVMe SSD", True,
                     "0.752"),
}


def catalog(db):
    psql(db, "INSERT INTO finops.instance_types (instance_type, family, vcpu, memory_gib,"
             " gpu_count, architecture, network_performance, storage, current_generation)"
             " VALUES " + ", ".join(
                 f"('{t}', '{t.split('.')[0]}', {v[0]}, {v[1]}, {v[2]}, '{v[3]}', '{v[4]}',"
                 f" '{v[5]}', {v[6]})" for t, v in TYPES.items()))
    psql(db, "INSERT INTO finops.instance_prices (region, instance_type, operating_system,"
             " tenancy, license_model, pre_installed_sw, term, price_per_hour, currency, sku,"
             " offer_term_code, offer_version) VALUES " + ", ".join(
                 f"('us-east-1', '{t}', 'Linux', 'Shared', 'No License required', 'NA',"
                 f" 'OnDemand', {v[7]}, 'USD', 'SKU{n}', 'JRTCKXETXF', 'v1')"
                 for n, (t, v) in enumerate(TYPES.items())))


def billing(db, tmp_path, instances, days=None, daily=False):
    """instances: id -> (type, effective cost per hour or None). Billed every hour
    of the window, or of the days given per instance (days: id -> day offsets);
    daily: one line of 24 hours a day, as a CUR of daily granularity has."""
    rows, n = [], 0
    for inst, (itype, effective) in instances.items():
        price = TYPES.get(itype, (0,) * 7 + ("0.1",))[7]
        for d in (days or {}).get(inst, range(14)):
            for h in ([0] if daily else range(24)):
                n += 1
                start = START + timedelta(days=d, hours=h)
                end = start + timedelta(hours=24 if daily else 1)
                qty = 24 if daily else 1
                extra = {"lineItem/ResourceId": inst, "product/instanceType": itype,
                         "lineItem/UsageType": f"BoxUsage:{itype}",
                         "product/operatingSystem": "Linux", "product/tenancy": "Shared",
                         "product/regionCode": "us-east-1", "lineItem/UsageAmount": str(qty),
                         "lineItem/UsageEndDate": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
                cost = str(Decimal(price) * qty)
                if effective:
                    extra.update({"savingsPlan/SavingsPlanEffectiveCost":
                                  str(Decimal(effective) * qty),
                                  "savingsPlan/SavingsPlanARN": "arn:aws:savingsplans::1:sp/x"})
                rows.append(legacy_row(n, "SavingsPlanCoveredUsage" if effective else "Usage",
                                       cost=cost, usage_start=start.strftime(
                                           "%Y-%m-%dT%H:%M:%SZ"), **extra))
                if effective:
                    # the negation repeats the usage: neither hours nor cost of its own
                    n += 1
                    rows.append(legacy_row(n, "SavingsPlanNegation", cost=f"-{cost}",
                                           usage_start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                           **extra))
    path = write_csv(tmp_path / "cur.csv", LEGACY_COLUMNS, rows)
    r = run("billing_ingest", "--dsn", f"dbname={db}", str(path))
    assert r.code == 0, r.stderr


def usage(db, inst, hours, cpu_max, cpu_avg=None, mem=None, net=1e9):
    """hours: iterable of hour offsets from START; the other values per hour (or callables)."""
    values = []
    for h in hours:
        def at(v):
            return v(h) if callable(v) else v
        m = at(mem)
        values.append(f"('{inst}', '{(START + timedelta(hours=h)).isoformat()}', '111122223333',"
                      f" 'us-east-1', {at(cpu_avg if cpu_avg is not None else cpu_max)},"
                      f" {at(cpu_max)}, {'NULL' if m is None else m},"
                      f" {'NULL' if m is None else m}, {at(net)}, 0, 12, 'cloudwatch')")
    psql(db, "INSERT INTO finops.instance_usage_hourly (instance_id, hour, account_id, region,"
             " cpu_avg, cpu_max, mem_avg, mem_max, net_in_bytes, net_out_bytes, sample_count,"
             " source) VALUES " + ", ".join(values))


ALL = range(14 * 24)


@pytest.fixture
def base(migrated_db):
    db = migrated_db
    psql(db, "CREATE TABLE finops.instance_usage_hourly_p202609 PARTITION OF"
             " finops.instance_usage_hourly FOR VALUES FROM ('2026-09-01') TO ('2026-10-01');"
             "CREATE TABLE finops.instance_usage_hourly_p202610 PARTITION OF"
             " finops.instance_usage_hourly FOR VALUES FROM ('2026-10-01') TO ('2026-11-01')")
    catalog(db)
    return db


@pytest.fixture
def scenario(base, tmp_path):
    db = base
    billing(db, tmp_path, {
        "i-over": ("m6i.2xlarge", "0.2304"), "i-idle": ("m6i.large", None),
        "i-notidle": ("m6i.large", None), "i-mem": ("m6i.xlarge", None),
        "i-nomem": ("m6i.xlarge", None), "i-gpu": ("g4dn.2xlarge", None),
        "i-arm": ("m6g.xlarge", None), "i-under": ("m6i.large", None),
        "i-few": ("m6i.large", None), "i-unknown": ("m9z.large", None),
        "i-nvme": ("c6id.xlarge", None)})
    # 11% of 8 vCPU, memory peak 12.8% of 32 GiB = 4.1 GiB
    usage(db, "i-over", ALL, 11.0, cpu_avg=9.0, mem=12.8)
    # idle: quiet (2% CPU, 40 kB an hour) on the last 5 days, busy before
    usage(db, "i-idle", ALL, lambda h: 5.0 if h >= 9 * 24 else 60.0,
          cpu_avg=lambda h: 2.0 if h >= 9 * 24 else 40.0,
          net=lambda h: 4e4 if h >= 9 * 24 else 1e9)
    # quiet on only the last 3 days: not idle
    usage(db, "i-notidle", ALL, lambda h: 5.0 if h >= 11 * 24 else 60.0,
          cpu_avg=lambda h: 2.0 if h >= 11 * 24 else 40.0,
          net=lambda h: 4e4 if h >= 11 * 24 else 1e9)
    usage(db, "i-mem", ALL, 20.0, mem=75.0)            # 12 of 16 GiB
    usage(db, "i-nomem", ALL, 20.0)
    usage(db, "i-gpu", ALL, 10.0, mem=20.0)             # 6.4 of 32 GiB
    usage(db, "i-arm", ALL, 10.0, mem=20.0)
    usage(db, "i-under", ALL, 97.0)
    usage(db, "i-few", range(20), 50.0)
    usage(db, "i-unknown", ALL, 30.0)
    usage(db, "i-nvme", ALL, 10.0, mem=10.0)
    return db


def calc(db, *args):
    return run("rightsizing_calc", "--dsn", f"dbname={db}", "--end", END.isoformat(), *args)


def found(db):
    out = {}
    for line in psql(db, "SELECT instance_id, finding, coalesce(recommended_type, ''),"
                         " monthly_saving_list, monthly_saving_effective, reason"
                         " FROM finops.rightsizing_current").splitlines():
        i, f, t, s, e, reason = line.split("|")
        out[i] = (f, t, s, e, reason)
    return out


def test_hand_worked_recommendations(scenario):
    r = calc(scenario)
    assert r.code == 0, r.stderr
    got = found(scenario)
    # downsizing within what fits: 0.88 vCPU and 4.1 GiB need 2 vCPU and 8 GiB;
    # m6g.large is cheaper but ARM, m5.large cheaper but previous generation
    assert got["i-over"][:3] == ("over_provisioned", "m6i.large", "210.24")   # (0.384-0.096)*730
    assert got["i-over"][4] == ("p99.5 CPU 11% of 8 vCPU, memory 4.1 of 32 GiB peak ->"
                                " m6i.large fits with 20% headroom; saves $210.24/month"
                                " over 730 h a month")
    # the Savings Plan rate: 0.2304/h effective instead of 0.384
    assert got["i-over"][3] == "126.14"                                   # 210.24*0.2304/0.384
    assert got["i-idle"][:3] == ("idle", "", "70.08")                       # 0.096*730
    assert "idle on 5 of the last 14 days" in got["i-idle"][4]
    assert "4 needed" in got["i-idle"][4]
    assert got["i-notidle"][0] == "optimized"
    # memory peak 12 GiB needs 15 GiB with headroom: r6i.large, never m6i.large
    assert got["i-mem"][:3] == ("over_provisioned", "r6i.large", "48.18")   # (0.192-0.126)*730
    # no memory data: never less memory than today (16 GiB)
    assert got["i-nomem"][:3] == ("over_provisioned", "r6i.large", "48.18")
    assert "memory not measured (never less than 16 GiB)" in got["i-nomem"][4]
    # the same GPU count: g4dn.xlarge, not a cheaper CPU type
    assert got["i-gpu"][:3] == ("over_provisioned", "g4dn.xlarge", "164.98")  # (0.752-0.526)*730
    # the same architecture: arm to arm
    assert got["i-arm"][:3] == ("over_provisioned", "m6g.large", "56.21")    # (0.154-0.077)*730
    # 97% of 2 vCPU needs 2.43 vCPU: the cheapest 4-vCPU type with 8 GiB, at added cost
    assert got["i-under"][:3] == ("under_provisioned", "c6i.xlarge", "-54.02")  # (0.096-0.17)*730
    assert "costs $54.02/month more" in got["i-under"][4]
    assert got["i-few"][0] == "insufficient_data"
    assert "20 hours of metrics in the window; 30 needed" in got["i-few"][4]
    assert got["i-unknown"][0] == "insufficient_data"
    assert "m9z.large is not in the instance catalog" in got["i-unknown"][4]
    # local storage is kept: nothing cheaper has NVMe
    assert got["i-nvme"][0] == "optimized"
    msg = r.summary()["msg"]
    assert ("11 instance(s) examined: 1 idle, 5 over-provisioned, 1 under-provisioned,"
            " 2 optimized, 2 with insufficient data") in msg
    assert "monthly saving $597.87 at list price" in msg      # 210.24+70.08+48.18*2+164.98+56.21


def test_options_change_the_answer(scenario):
    # ARM allowed: i-over goes to m6g.large, the cheapest 2 vCPU / 8 GiB type
    assert calc(scenario, "--allow-arch-change").code == 0
    assert found(scenario)["i-over"][:3] == ("over_provisioned", "m6g.large", "224.11")
    # 30% headroom: 0.88 vCPU still fits 2 vCPU (1.4)
    assert calc(scenario, "--cpu-headroom", "30").code == 0
    assert found(scenario)["i-over"][1] == "m6i.large"
    assert calc(scenario, "--cpu-statistic", "p42").code == 2


def test_each_run_replaces_the_current_set_and_keeps_history(scenario):
    assert calc(scenario).code == 0
    assert calc(scenario).code == 0
    assert psql(scenario, "SELECT count(DISTINCT run_id) FROM"
                          " finops.rightsizing_recommendations") == "2"
    assert psql(scenario, "SELECT count(*) FROM finops.rightsizing_current") == "11"
    assert psql(scenario, "SELECT monthly_saving_list FROM finops.rightsizing_runs"
                          " ORDER BY run_id DESC LIMIT 1") == "597.87"


def later_billing(db, tmp_path, name, rows):
    """Billing of another report, so the window's own period stays as loaded."""
    path = write_csv(tmp_path / name, LEGACY_COLUMNS, rows)
    r = run("billing_ingest", "--dsn", f"dbname={db}", "--report-name", "later", str(path))
    assert r.code == 0, r.stderr


def ran_as(n, inst, itype, cost, start, period="2026-10"):
    return legacy_row(n, period=period, cost=cost, usage_start=start,
                      **{"lineItem/ResourceId": inst, "product/instanceType": itype,
                         "lineItem/UsageType": f"BoxUsage:{itype}",
                         "product/regionCode": "us-east-1"})


def test_savings_applied_when_the_instance_later_runs_as_recommended(scenario, tmp_path):
    """"Later" is after the analysis window the recommendation was computed for
    (--end 2026-10-15), never after the wall-clock time of the run: the run
    happens today, the billing it counts is from October."""
    assert calc(scenario).code == 0
    # after the window, i-over is billed as m6i.large (the recommendation), i-mem unchanged
    later_billing(scenario, tmp_path, "later.csv", [
        ran_as(900 + h, "i-over", "m6i.large", "0.096", f"2026-11-03T{h:02d}:00:00Z",
               period="2026-11") for h in range(3)] + [
        ran_as(990, "i-mem", "m6i.xlarge", "0.192", "2026-11-03T05:00:00Z", period="2026-11")])
    assert psql(scenario, "SELECT instance_id || ' ' || recommended_type || ' '"
                          " || monthly_saving_list || ' ' || applied_from"
                          " FROM finops.rightsizing_applied") == \
        "i-over m6i.large 210.24 2026-11-03 00:00:00+00"


def test_savings_applied_counts_from_the_window_end_not_from_the_run(scenario, tmp_path):
    """Billing as the recommended type inside the analysis window is not "later";
    billing right after --end is, though the run happened weeks after it."""
    assert calc(scenario).code == 0
    later_billing(scenario, tmp_path, "later.csv", [
        # inside the window (before --end 2026-10-15): what the instance ran as then
        ran_as(950, "i-arm", "m6g.large", "0.077", "2026-10-14T10:00:00Z"),
        # the hour after the window ends
        ran_as(951, "i-gpu", "g4dn.xlarge", "0.526", "2026-10-15T00:00:00Z")])
    assert psql(scenario, "SELECT string_agg(instance_id || ' ' || applied_from, ',')"
                          " FROM finops.rightsizing_applied") == \
        "i-gpu 2026-10-15 00:00:00+00"


def test_a_window_without_metrics_keeps_the_current_set(scenario):
    assert calc(scenario).code == 0
    r = run("rightsizing_calc", "--dsn", f"dbname={scenario}", "--end", "2027-06-01T00:00:00Z")
    assert r.code == 99, r.stderr
    assert psql(scenario, "SELECT count(*) FROM finops.rightsizing_runs") == "1"
    assert psql(scenario, "SELECT count(*) FROM finops.rightsizing_current") == "11"


@pytest.mark.parametrize("daily", [False, True], ids=["hourly lines", "daily lines"])
def test_saving_is_projected_over_the_hours_the_instance_runs(base, tmp_path, daily):
    """An always-on instance saves over 730 h a month (as Compute Optimizer
    assumes); one billed 5 of the window's 14 days over 5/14 of that."""
    billing(base, tmp_path, {"i-always": ("m6i.2xlarge", None), "i-part": ("m6i.2xlarge", None)},
            days={"i-part": range(9, 14)}, daily=daily)
    usage(base, "i-always", ALL, 11.0, cpu_avg=9.0, mem=12.8)
    usage(base, "i-part", range(9 * 24, 14 * 24), 11.0, cpu_avg=9.0, mem=12.8)
    assert calc(base).code == 0
    got = found(base)
    hourly_diff = Decimal("0.384") - Decimal("0.096")
    assert got["i-always"][:3] == ("over_provisioned", "m6i.large",
                                   str((hourly_diff * 730).quantize(Decimal("0.01"))))
    # 120 of 336 billed hours: 730 x 120 / 336 = 260.71 h a month
    part_hours = (Decimal(730) * 120 / 336).quantize(Decimal("0.01"))
    assert part_hours == Decimal("260.71")
    assert got["i-part"][:3] == ("over_provisioned", "m6i.large",
                                 str((hourly_diff * part_hours).quantize(Decimal("0.01"))))
    assert got["i-part"][2] == "75.08"
    assert got["i-part"][4].endswith("saves $75.08/month over 261 h a month (billed 120 of"
                                     " 336 h in the window)")
    assert psql(base, "SELECT billed_hours || ' ' || monthly_hours FROM"
                      " finops.rightsizing_current WHERE instance_id = 'i-part'") == "120 260.71"
    # the run's total is what the instances save, never more than they cost
    assert psql(base, "SELECT monthly_saving_list FROM finops.rightsizing_runs") == \
        str((hourly_diff * 730 + hourly_diff * part_hours).quantize(Decimal("0.01")))


def test_the_idle_rule_reads_the_window_it_was_given(base, tmp_path):
    """--lookback-days 7: idle days are counted over those 7 days, and the
    share Trusted Advisor needs (4 of 14) is 2 of 7."""
    billing(base, tmp_path, {"i-idle": ("m6i.large", None)})
    usage(base, "i-idle", ALL, lambda h: 5.0 if h >= 11 * 24 else 60.0,
          cpu_avg=lambda h: 2.0 if h >= 11 * 24 else 40.0,
          net=lambda h: 4e4 if h >= 11 * 24 else 1e9)
    assert calc(base, "--lookback-days", "7").code == 0
    got = found(base)["i-idle"]
    assert got[0] == "idle"
    assert "idle on 3 of the last 7 days" in got[4] and "2 needed" in got[4]
    # 14 days: 3 quiet days are not enough
    assert calc(base).code == 0
    assert found(base)["i-idle"][0] == "optimized"



def test_shards_at_once_give_the_unsharded_answer(scenario):
    assert calc(scenario).code == 0
    whole = found(scenario)
    # three shards at once: each decides only its own instances, and together
    # they are the current set, exactly the unsharded run's answers
    procs = [start("rightsizing_calc", "--dsn", f"dbname={scenario}", "--end", END.isoformat(),
                   "--shard", f"{i}/3") for i in range(3)]
    for p in procs:
        _, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
    assert found(scenario) == whole
    per_shard = psql(scenario, """
        SELECT string_agg(run.shard_index || ':' || r.instance_id, ' ' ORDER BY r.instance_id)
          FROM finops.rightsizing_current r JOIN finops.rightsizing_runs run USING (run_id)""")
    assert per_shard == " ".join(f"{shard_of(i, 3)}:{i}" for i in sorted(whole))
    assert len({shard_of(i, 3) for i in whole}) == 3      # the fixture fills every shard
    # the shards summed: the same instances and saving as the whole run
    assert psql(scenario, "SELECT shard_count, shards, instances, monthly_saving_list"
                          " FROM finops.rightsizing_windows ORDER BY shard_count") == \
        "1|1|11|597.87\n3|3|11|597.87"
    # a shard run again replaces its own instances only
    r = calc(scenario, "--shard", "1/3", "--cpu-headroom", "50")
    assert r.code == 0, r.stderr
    n1 = sum(1 for i in whole if shard_of(i, 3) == 1)
    assert f"{n1} instance(s) examined" in r.summary()["msg"]
    assert f"; shard 1/3 ({11 - n1} instance(s) of other shards left out)" in \
        r.summary()["msg"]
    again = found(scenario)
    assert {i: v for i, v in again.items() if shard_of(i, 3) != 1} == \
        {i: v for i, v in whole.items() if shard_of(i, 3) != 1}
    assert psql(scenario, "SELECT count(*) FROM finops.rightsizing_current") == "11"
    # an unsharded run is the whole set again, and a later split starts afresh:
    # its first shard is all that is current, never mixed with the older split
    assert calc(scenario).code == 0
    assert found(scenario) == whole
    assert calc(scenario, "--shard", "2/3").code == 0
    assert sorted(found(scenario)) == sorted(i for i in whole if shard_of(i, 3) == 2)


@pytest.mark.parametrize("bad", ["3/3", "0/0", "-1/2", "1", "a/b", "1/2000"])
def test_a_bad_shard_is_a_usage_error(bad):
    r = run("rightsizing_calc", "--dsn", "dbname=nonexistent", "--shard", bad)
    assert r.code == 2
    assert "--shard" in r.stderr


def test_an_instance_not_billed_keeps_the_account_and_region_of_its_usage(base):
    # no billing line: type unknown, the account and region of its newest hour of usage
    usage(base, "i-nobill", ALL, 30.0)
    psql(base, "UPDATE finops.instance_usage_hourly SET region = 'eu-west-1'"
               f" WHERE hour = '{(START + timedelta(hours=14 * 24 - 1)).isoformat()}'")
    assert calc(base).code == 0
    assert psql(base, "SELECT finding || ' ' || account_id || ' ' || region || ' ' || reason"
                      " FROM finops.rightsizing_current") == \
        ("insufficient_data 111122223333 eu-west-1 no EC2 instance hours in the billing table"
         " for the window: its type is unknown")


def test_a_stop_during_the_read_ends_soon_and_changes_nothing(base):
    """SIGTERM (an Airflow timeout, an operator) while the usage streams in: the
    server is asked to cancel the read, the run exits 4 (transient), the COPY is
    over on the server, and the current set is what it was. (How soon it ends is
    not asserted: under the suite's load it varies too much to tell the cancel
    from draining the whole read; on a quiet machine, 4M rows: 9.5 s without the
    cancel, under 5 with it.)"""
    import signal

    from conftest import wait_for

    psql(base, "INSERT INTO finops.instance_usage_hourly (instance_id, hour, account_id,"
               " region, cpu_avg, cpu_max, net_in_bytes, sample_count, source)"
               " SELECT 'i-' || lpad(i::text, 17, '0'),"
               f" '{START.isoformat()}'::timestamptz + h * interval '1 hour', '1', 'us-east-1',"
               " 5, 9, 1e8, 12, 'cloudwatch'"
               " FROM generate_series(1, 6000) i, generate_series(0, 14 * 24 - 1) h")
    proc = start("rightsizing_calc", "--dsn", f"dbname={base}", "--end", END.isoformat())
    # both connections of --jobs 2 (the default) read their half of the window
    reading = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
               " AND state = 'active' AND query LIKE 'COPY (SELECT instance_id, hour%'")
    assert wait_for(lambda: psql(base, reading) == "2", timeout=30)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "interrupted" in err
    assert psql(base, "SELECT count(*) FROM finops.rightsizing_runs") == "0"
    assert psql(base, reading) == "0"
    # the second connection's session ends with the run
    assert wait_for(lambda: psql(base, "SELECT count(*) FROM pg_stat_activity"
                                       f" WHERE datname = '{base}' AND pid <> pg_backend_pid()")
                    == "0", timeout=10)


def recommendations(db):
    """Every column of the current set but the run's id, in instance order."""
    return psql(db, "SELECT instance_id, account_id, region, current_type, recommended_type,"
                    " finding, hours, cpu_statistic, cpu_percent, cpu_demand_vcpu,"
                    " memory_peak_gib, idle_days, current_hourly_price,"
                    " recommended_hourly_price, billed_hours, monthly_hours,"
                    " monthly_saving_list, monthly_saving_effective, reason"
                    " FROM finops.rightsizing_current ORDER BY instance_id")


def test_every_way_of_reading_the_window_gives_the_same_answers(scenario):
    """--jobs N reads N parts of the window's days at once, in the table's own
    order; the answers are the hand-worked ones of one connection, whatever N."""
    assert calc(scenario, "--jobs", "1").code == 0
    one = recommendations(scenario)
    for jobs in ("2", "3", "5", "14", "16"):
        r = calc(scenario, "--jobs", jobs)
        assert r.code == 0, r.stderr
        assert recommendations(scenario) == one, jobs


def fleet(db, instances, hours):
    """instances x hours of varied usage (some quiet days, some without memory)."""
    psql(db, "INSERT INTO finops.instance_usage_hourly (instance_id, hour, account_id,"
             " region, cpu_avg, cpu_max, mem_avg, mem_max, net_in_bytes, net_out_bytes,"
             " sample_count, source)"
             " SELECT 'i-' || lpad(i::text, 17, '0'),"
             f" '{START.isoformat()}'::timestamptz + h * interval '1 hour', '1', 'us-east-1',"
             " c / 4, c, CASE WHEN i % 3 = 0 THEN NULL ELSE c / 2 END,"
             " CASE WHEN i % 3 = 0 THEN NULL ELSE c / 2 END,"
             " CASE WHEN i % 5 = 0 THEN 1e3 ELSE 1e8 END, 0, 12, 'cloudwatch'"
             f" FROM generate_series(1, {instances}) i, generate_series(0, {hours} - 1) h,"
             " LATERAL (SELECT CASE WHEN (i + h / 24) % 4 = 0 THEN 4.0"
             "   ELSE ((i * 7919 + h * 104729) % 1000) / 10.0 END AS c) x")


def test_a_fleet_beyond_the_memory_is_read_in_instance_order_with_the_same_answers(base):
    """--memory bounds the statistics of every instance at once; a window that
    needs more is read again in instance order, one instance in memory at a
    time, and decides exactly as the in-memory read does."""
    fleet(base, 6000, 14 * 24)
    r = calc(base)
    assert r.code == 0, r.stderr
    assert "in instance order" not in r.stderr
    whole = recommendations(base)
    assert psql(base, "SELECT count(*), count(*) FILTER (WHERE idle_days > 0)"
                      " FROM finops.rightsizing_current") == "6000|1200"
    r = calc(base, "--memory", "1")
    assert r.code == 0, r.stderr
    assert "more instances than 1 MB of statistics hold (--memory): reading the window" \
        " again in instance order" in r.stderr
    assert "6000 instance(s) examined" in r.summary()["msg"]
    assert recommendations(base) == whole
    # three readers cancelled and drained when the memory runs out, then the
    # instance-order read on the run's own connection
    r = calc(base, "--memory", "1", "--jobs", "3")
    assert r.code == 0, r.stderr
    assert "in instance order" in r.stderr
    assert recommendations(base) == whole
    # a shard's fallback reads its own instances only (the temp table of its
    # ids); over 93 days an instance's statistics are about 1 kB, so a third
    # of the fleet outgrows 1 MB as well
    assert calc(base, "--lookback-days", "93").code == 0
    whole93 = recommendations(base)
    r = calc(base, "--lookback-days", "93", "--memory", "1", "--shard", "1/3")
    assert r.code == 0, r.stderr
    assert "in instance order" in r.stderr
    mine = [line for line in whole93.splitlines() if shard_of(line.split("|")[0], 3) == 1]
    assert f"{len(mine)} instance(s) examined" in r.summary()["msg"]
    assert recommendations(base) == "\n".join(mine)


def test_a_day_averaging_exactly_ten_percent_is_idle_whatever_the_order(base):
    """Hours of 9.9% and 10.1% average exactly 10%, which the idle rule allows:
    a day's sums are exact (fixed point), so no reading order of the hours
    makes it 10.000000000000002."""
    usage(base, "i-edge", ALL, 12.0, cpu_avg=lambda h: 9.9 if h % 2 else 10.1, net=1e5)
    usage(base, "i-above", ALL, 12.0, cpu_avg=lambda h: 9.9 if h % 2 else 10.1000001,
          net=1e5)
    for jobs in ("1", "2", "3"):
        assert calc(base, "--jobs", jobs).code == 0
        assert psql(base, "SELECT string_agg(instance_id || ' ' || idle_days, ', '"
                          " ORDER BY instance_id) FROM finops.rightsizing_current") == \
            "i-above 0, i-edge 14"


def test_a_connection_the_server_refuses_is_a_warning_not_a_failure(base):
    """--jobs 2 under a role allowed one connection: the run reads the window
    on the one it has, says so, and answers as usual."""
    fleet(base, 20, 14 * 24)
    assert calc(base, "--jobs", "1").code == 0
    one = recommendations(base)
    role = f"{base}_one"      # roles are the cluster's: one per test database
    psql(base, f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1; GRANT finops_writer TO {role}")
    try:
        r = run("rightsizing_calc", "--dsn", f"dbname={base} user={role}", "--end",
                END.isoformat(), "--jobs", "2")
        assert r.code == 0, r.stderr
        assert "reading the usage on 1 connection(s) instead of 2" in r.stderr
        assert "too many connections for role" in r.stderr
        assert recommendations(base) == one
    finally:
        psql(base, f"DROP OWNED BY {role}; DROP ROLE {role}")
