"""instance_catalog_updater against a local HTTP server (Python's http.server)
serving a region index and EC2 offer files shaped like the real ones: first
load, unchanged runs, a new version, bad and truncated files, and known
facts from the fixtures and from the real Price List sample."""
import json
import os
import threading
from decimal import Decimal
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import psql, run
from pricefixtures import HEADER, offer_csv, offer_rows, write_index, write_offer

SHARED = os.path.join(os.environ.get("FINOPS_SOURCE_DIR", ""), "..", "shared", "data",
                      "aws-pricing")
V1, V2 = "20261101000000", "20261115000000"
CATALOG = ("SELECT md5(string_agg(region || sku || offer_term_code || price_per_hour"
           " || upfront_fee, ',' ORDER BY region, sku, offer_term_code))"
           " FROM finops.instance_prices")


class Server:
    """Serves a directory; records each request; can cut one path's answers."""

    def __init__(self, root):
        self.requests = []
        self.cut = {}                       # path -> bytes to send before closing
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=root, **kw)

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                if self.path in server.cut:
                    path = self.translate_path(self.path)
                    data = open(path, "rb").read()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:server.cut[self.path]])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def csv_requests(self):
        return [r for r in self.requests if r.endswith(".csv")]

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture
def pricing(tmp_path):
    root = str(tmp_path / "www")
    for region in ("us-east-1", "eu-west-1"):
        write_offer(root, V1, region, offer_csv(V1, offer_rows(region)))
    write_index(root, {"us-east-1": V1, "eu-west-1": V1})
    srv = Server(root)
    srv.root = root
    yield srv
    srv.stop()


@pytest.fixture
def mdb(migrated_db):
    return migrated_db


def messages(r):
    return "\n".join(line["msg"] for line in r.log_lines())


def update(db, srv, *args):
    return run("instance_catalog_updater", "--dsn", f"dbname={db}", "--base-url", srv.url,
               *args)


def test_first_load_keeps_known_facts(mdb, pricing):
    r = update(mdb, pricing)
    assert r.code == 0, r.stderr
    assert "2 region(s) loaded, 0 unchanged, 0 failed" in r.summary()["msg"]
    # hardware of a type, from the offer file
    assert psql(mdb, "SELECT vcpu || '|' || memory_gib || '|' || architecture || '|'"
                     " || family || '|' || generation || '|' || gpu_count || '|'"
                     " || current_generation FROM finops.instance_types"
                     " WHERE instance_type = 'm5.large'") == "2|8|x86_64|m5|5|0|true"
    assert psql(mdb, "SELECT architecture FROM finops.instance_types"
                     " WHERE instance_type = 'm6g.xlarge'") == "arm64"
    assert psql(mdb, "SELECT memory_gib || '|' || generation FROM finops.instance_types"
                     " WHERE instance_type = 'u-12tb1.metal'") == "12288|1"
    assert psql(mdb, "SELECT gpu_count FROM finops.instance_types"
                     " WHERE instance_type = 'p3.2xlarge'") == "1"
    # the On-Demand Linux price rightsizing uses
    assert psql(mdb, "SELECT price_per_hour FROM finops.instance_ondemand_linux"
                     " WHERE region = 'us-east-1' AND instance_type = 'm5.large'") \
        == "0.0960000000"
    # Reserved: the hourly part and the upfront fee of each purchase option
    got = psql(mdb, "SELECT string_agg(lease_length || ' ' || purchase_option || ' '"
                    " || offering_class || ' ' || price_per_hour || ' ' || upfront_fee, ', '"
                    " ORDER BY lease_length, purchase_option) FROM finops.instance_prices"
                    " WHERE region = 'us-east-1' AND term = 'Reserved'")
    assert got == ("1yr No Upfront standard 0.0600000000 0, "
                   "1yr Partial Upfront standard 0.0290000000 252, "
                   "3yr All Upfront convertible 0.0000000000 1231")
    # skipped rows, counted by reason, and nothing of them stored
    v = json.loads(psql(mdb, "SELECT rows_skipped FROM finops.instance_catalog_versions"
                             " WHERE region = 'eu-west-1'"))
    assert v == {"not_compute_instance": 1, "capacity_not_used": 1,
                 "host_or_reservation_placeholder": 1, "other_market_option": 1,
                 "other_term_type": 0, "other_unit": 0}
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices WHERE sku LIKE '%SKU0000%'"
                     " OR sku LIKE 'BLOCK%'") == "0"
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == str(2 * (10 + 3))
    assert "skipped_by_reason" in r.stderr


def test_unchanged_version_is_not_downloaded_again(mdb, pricing):
    assert update(mdb, pricing).code == 0
    before = len(pricing.csv_requests())
    r = update(mdb, pricing)
    assert r.code == 99, r.stderr
    assert len(pricing.csv_requests()) == before
    assert "already loaded; not downloading it" in r.stderr
    r = update(mdb, pricing, "--force", "--region", "eu-west-1")
    assert r.code == 0, r.stderr
    assert len(pricing.csv_requests()) == before + 1


def test_new_version_replaces_only_its_region(mdb, pricing):
    assert update(mdb, pricing).code == 0
    eu_before = psql(mdb, CATALOG.replace("FROM finops.instance_prices",
                                          "FROM finops.instance_prices WHERE region ="
                                          " 'eu-west-1'"))
    # us-east-1 gets a new version: prices up 10%, c5.2xlarge no longer offered
    types = ["m5.large", "m6g.xlarge", "p3.2xlarge", "u-12tb1.metal"]
    write_offer(pricing.root, V2, "us-east-1",
                offer_csv(V2, offer_rows("us-east-1", factor=1.1, types=types)))
    write_index(pricing.root, {"us-east-1": V2, "eu-west-1": V1})
    r = update(mdb, pricing)
    assert r.code == 0, r.stderr
    assert "1 region(s) loaded, 1 unchanged" in r.summary()["msg"]
    assert psql(mdb, "SELECT price_per_hour || ' ' || offer_version"
                     " FROM finops.instance_ondemand_linux"
                     " WHERE region = 'us-east-1' AND instance_type = 'm5.large'") \
        == f"0.1056000000 {V2}"
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices WHERE region = 'us-east-1'"
                     " AND instance_type = 'c5.2xlarge'") == "0"
    assert psql(mdb, CATALOG.replace("FROM finops.instance_prices",
                                     "FROM finops.instance_prices WHERE region ="
                                     " 'eu-west-1'")) == eu_before
    assert psql(mdb, "SELECT offer_version FROM finops.instance_catalog_versions"
                     " WHERE region = 'us-east-1'") == V2


def test_truncated_or_bad_files_leave_the_old_catalog(mdb, pricing):
    assert update(mdb, pricing).code == 0
    before = psql(mdb, CATALOG)
    text = offer_csv(V2, offer_rows("us-east-1", factor=2))
    write_index(pricing.root, {"us-east-1": V2, "eu-west-1": V1})

    # a file that ends in the middle of a row
    write_offer(pricing.root, V2, "us-east-1", text[:len(text) * 2 // 3])
    r = update(mdb, pricing)
    assert r.code == 3, r.stderr
    assert "fields, the header has 91 (a truncated file?)" in r.stderr
    assert "its previous catalog is kept" in r.stderr
    assert psql(mdb, CATALOG) == before

    # a download cut off every time: retried, then transient
    write_offer(pricing.root, V2, "us-east-1", text)
    pricing.cut[f"/offers/v1.0/aws/AmazonEC2/{V2}/us-east-1/index.csv"] = 3000
    r = update(mdb, pricing)
    assert r.code == 4, r.stderr
    assert psql(mdb, CATALOG) == before
    pricing.cut.clear()

    # a price that is not a number, named by line and column
    rows = offer_rows("us-east-1")
    rows[3][HEADER.index("PricePerUnit")] = "0.1O5"
    write_offer(pricing.root, V2, "us-east-1", offer_csv(V2, rows))
    r = update(mdb, pricing)
    assert r.code == 3, r.stderr
    assert "index.csv:10: column PricePerUnit: \"0.1O5\" is not a number" in messages(r)
    assert psql(mdb, CATALOG) == before

    # a required column missing from the header
    header = [h if h != "Instance Type" else "InstanceKind" for h in HEADER]
    write_offer(pricing.root, V2, "us-east-1",
                offer_csv(V2, offer_rows("us-east-1"), header=header))
    r = update(mdb, pricing)
    assert r.code == 3, r.stderr
    assert 'required column "Instance Type" is missing' in messages(r)
    assert psql(mdb, CATALOG) == before

    # and once fixed, it loads
    write_offer(pricing.root, V2, "us-east-1", text)
    assert update(mdb, pricing).code == 0
    assert psql(mdb, CATALOG) != before


def test_other_regions_load_when_one_fails(mdb, pricing):
    write_offer(pricing.root, V1, "eu-west-1", "not,an,offer\n")
    r = update(mdb, pricing)
    assert r.code == 3, r.stderr
    assert "1 region(s) loaded, 0 unchanged, 1 failed (eu-west-1)" in r.stderr
    assert psql(mdb, "SELECT string_agg(region, ',') FROM finops.instance_catalog_versions") \
        == "us-east-1"


def test_unknown_region_and_bad_base_url(mdb, pricing):
    r = update(mdb, pricing, "--region", "mars-north-1")
    assert r.code == 2
    assert "--region mars-north-1: not in the region index (2 regions)" in r.stderr
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--base-url",
            pricing.url + "/nothing-here")
    assert r.code == 2
    assert "no region index there (check --base-url)" in r.stderr


def test_dry_run_writes_nothing(mdb, pricing):
    r = update(mdb, pricing, "--dry-run")
    assert r.code == 0, r.stderr
    assert psql(mdb, "SELECT count(*) FROM finops.instance_prices") == "0"
    assert psql(mdb, "SELECT count(*) FROM finops.instance_catalog_versions") == "0"


@pytest.mark.skipif(not os.path.isdir(SHARED), reason=f"{SHARED} is absent (shared sample"
                                                      " data)")
def test_real_offer_sample_agrees_with_describe_instance_types(mdb):
    path = os.path.join(SHARED, "ec2-offer-sample-20250912225308.csv")
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", path)
    assert r.code == 0, r.stderr
    assert "5 region(s) loaded" in r.summary()["msg"]
    # a fact of the real file: c6i.large, Tokyo, Windows + SQL Web, dedicated,
    # 3-year standard Partial Upfront: 0.10463/h plus 2750 upfront
    assert psql(mdb, "SELECT price_per_hour || ' ' || upfront_fee FROM finops.instance_prices"
                     " WHERE region = 'ap-northeast-1' AND instance_type = 'c6i.large'"
                     " AND pre_installed_sw = 'SQL Web' AND lease_length = '3yr'"
                     " AND purchase_option = 'Partial Upfront'"
                     " AND offering_class = 'standard'") == "0.1046300000 2750"
    # the hardware agrees with EC2's DescribeInstanceTypes for every type loaded
    described = json.load(open(os.path.join(SHARED, "ec2-describe-instance-types.json")))
    rows = psql(mdb, "SELECT instance_type, vcpu, memory_gib FROM finops.instance_types")
    assert rows
    for line in rows.splitlines():
        t, vcpu, mem = line.split("|")
        d = described[t]
        assert int(vcpu) == d["VCpuInfo"]["DefaultVCpus"], t
        assert Decimal(mem) == Decimal(d["MemoryInfo"]["SizeInMiB"]) / 1024, t
    # unchanged second time, the same five regions counted
    r = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", path)
    assert r.code == 99, r.stderr
    assert "0 region(s) loaded, 5 unchanged" in r.summary()["msg"]


def test_a_file_of_several_regions_counts_them_alike_loaded_or_unchanged(mdb, tmp_path):
    """The same regions, counted the same way on the first run and the re-run."""
    path = tmp_path / "offer.csv"
    path.write_text(offer_csv(V1, offer_rows("us-east-1") + offer_rows("eu-west-1")))
    first = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert first.code == 0, first.stderr
    assert "2 region(s) loaded, 0 unchanged, 0 failed" in first.summary()["msg"]
    again = run("instance_catalog_updater", "--dsn", f"dbname={mdb}", "--from-file", str(path))
    assert again.code == 99, again.stderr
    assert "0 region(s) loaded, 2 unchanged, 0 failed" in again.summary()["msg"]
