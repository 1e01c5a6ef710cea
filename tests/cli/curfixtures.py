"""Small billing exports written by the tests: legacy CUR, CUR 2.0, FOCUS.

Every value is chosen by hand so that the expected totals can be written in
the tests; nothing here is read back from the code under test.
"""
import csv
import gzip
import io
import json
import os

LEGACY_COLUMNS = [
    "identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/BillingEntity",
    "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType",
    "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
    "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone",
    "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
    "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/LineItemDescription",
    "product/ProductName", "product/instanceType", "product/productFamily", "product/regionCode",
    "product/operatingSystem", "product/tenancy", "pricing/term", "pricing/unit",
    "pricing/publicOnDemandCost", "reservation/ReservationARN", "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment",
    "splitLineItem/ParentResourceId", "splitLineItem/SplitCost", "splitLineItem/UnusedCost",
    "resourceTags/user:team", "resourceTags/user:env", "costCategory/Business Unit",
]

PAYER = "111122223333"


def legacy_row(n, line_item_type="Usage", cost="1.00", currency="USD", period="2026-10",
               usage_start=None, **extra):
    """One legacy CUR row as a dict; extra overrides columns by their CUR name."""
    year, month = period.split("-")
    start = usage_start or f"{period}-01T{n % 24:02d}:00:00Z"
    row = {c: "" for c in LEGACY_COLUMNS}
    row.update({
        "identity/LineItemId": f"li-{period}-{n:05d}",
        "identity/TimeInterval": f"{period}-01T00:00:00Z/{period}-01T01:00:00Z",
        "bill/BillingEntity": "AWS",
        "bill/BillType": "Anniversary",
        "bill/PayerAccountId": PAYER,
        "bill/BillingPeriodStartDate": f"{period}-01T00:00:00Z",
        "bill/BillingPeriodEndDate": f"{year}-{int(month) % 12 + 1:02d}-01T00:00:00Z",
        "lineItem/UsageAccountId": "444455556666",
        "lineItem/LineItemType": line_item_type,
        "lineItem/UsageStartDate": start,
        "lineItem/UsageEndDate": start,
        "lineItem/ProductCode": "AmazonEC2",
        "lineItem/UsageType": "BoxUsage:m5.large",
        "lineItem/Operation": "RunInstances",
        "lineItem/ResourceId": f"i-{n:017x}",
        "lineItem/UsageAmount": "1",
        "lineItem/CurrencyCode": currency,
        "lineItem/UnblendedCost": cost,
        "lineItem/LineItemDescription": "$0.096 per On Demand Linux m5.large Instance Hour",
        "product/ProductName": "Amazon Elastic Compute Cloud",
        "product/instanceType": "m5.large",
        "product/regionCode": "us-east-1",
        "pricing/term": "OnDemand",
        "pricing/unit": "Hrs",
        "pricing/publicOnDemandCost": cost,
        "resourceTags/user:team": "payments",
    })
    row.update(extra)
    return row


def write_csv(path, columns, rows, gz=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns] if isinstance(r, dict) else r)
    data = buf.getvalue().encode()
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write_legacy_delivery(root, report, period, assembly, files, mtime=None):
    """A legacy CUR delivery as AWS lays it out in S3: returns the manifest path.

    files: list of row lists, one a report file (gzip).
    """
    start = period.replace("-", "") + "01"
    year, month = int(period[:4]), int(period[5:])
    end = f"{year + month // 12:04d}{month % 12 + 1:02d}01"
    period_dir = os.path.join(root, report, f"{start}-{end}")
    os.makedirs(os.path.join(period_dir, assembly), exist_ok=True)
    keys = []
    for i, rows in enumerate(files, 1):
        key = f"{report}/{start}-{end}/{assembly}/{report}-{i}.csv.gz"
        write_csv(os.path.join(root, key), LEGACY_COLUMNS, rows, gz=True)
        keys.append(key)
    manifest = {
        "assemblyId": assembly, "account": PAYER, "reportName": report,
        "billingPeriod": {"start": f"{start}T000000.000Z", "end": f"{end}T000000.000Z"},
        "bucket": "billing-bucket", "reportKeys": keys,
        "columns": [{"category": c.split("/")[0], "name": c.split("/")[1]}
                    for c in LEGACY_COLUMNS],
        "compression": "GZIP", "contentType": "text/csv", "charset": "UTF-8",
    }
    path = os.path.join(period_dir, f"{report}-Manifest.json")
    with open(path, "w") as f:
        json.dump(manifest, f)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
