"""Billing data of a small company for the anomaly tests, written as legacy
CUR files a month each: EC2 with a weekly pattern, S3, a NAT gateway, AWS
Support billed on the 1st of each month, and a second payer billed in EUR.
Incidents are injected by the caller. Amounts are chosen by hand (noise is
a fixed pattern, not random) so the expected impacts can be written in the
tests.
"""
from datetime import date, timedelta

from curfixtures import LEGACY_COLUMNS, legacy_row, write_csv

FIRST = date(2026, 7, 1)
LAST = date(2026, 10, 31)            # with --cutoff-days 2, 10-29 is the last closed day
EUR_PAYER = "999988887777"


def noise(k, salt):
    """A fixed wobble within +-3%."""
    return 1 + (((k * 7 + salt * 13) % 13) - 6) / 200


def base_items(d):
    """(service code, usage type, account, currency, cost) of day d in normal times."""
    k = (d - FIRST).days
    weekend = d.weekday() >= 5
    items = [
        ("AmazonEC2", "BoxUsage:m5.xlarge", "111122223333", "USD",
         1000 * (0.7 if weekend else 1.0) * noise(k, 1)),
        ("AmazonS3", "TimedStorage-ByteHrs", "111122223333", "USD", 200 * noise(k, 2)),
        ("AmazonEC2", "NatGateway-Bytes", "111122223333", "USD", 50 * noise(k, 3)),
        ("AmazonEC2", "BoxUsage:m5.large", EUR_PAYER, "EUR",
         400 * (0.8 if weekend else 1.0) * noise(k, 4)),
    ]
    if d.day == 1:
        items.append(("AWSSupportBusiness", "Dollar", "111122223333", "USD", 1500.0))
    return items


def rows(extra=None, first=FIRST, last=LAST, scale=None):
    """Every line item from first to last; extra(d) gives more items of day d, scale(d, item)
    a factor for an item."""
    out, n = [], 0
    d = first
    while d <= last:
        items = base_items(d) + (extra(d) if extra else [])
        for service, usage_type, payer, cur, cost in items:
            if scale:
                cost *= scale(d, (service, usage_type, payer))
            n += 1
            out.append(legacy_row(
                n, cost=f"{cost:.2f}", currency=cur, period=d.strftime("%Y-%m"),
                usage_start=f"{d.isoformat()}T00:00:00Z",
                **{"lineItem/ProductCode": service, "product/ProductName": service,
                   "lineItem/UsageType": usage_type, "bill/PayerAccountId": payer,
                   "lineItem/UsageAccountId": "444455556666" if payer != EUR_PAYER
                   else "777700001111",
                   "lineItem/UsageEndDate": f"{(d + timedelta(days=1)).isoformat()}T00:00:00Z",
                   "identity/LineItemId": f"li-{d.isoformat()}-{n:05d}"}))
        d += timedelta(days=1)
    return out


def write_months(tmp_path, all_rows, name, months=None):
    """One file a payer and month; the paths."""
    parts = {}
    for r in all_rows:
        key = (r["bill/PayerAccountId"], r["bill/BillingPeriodStartDate"][:7])
        parts.setdefault(key, []).append(r)
    paths = []
    for (payer, month), part in sorted(parts.items()):
        if months and month not in months:
            continue
        paths.append(str(write_csv(tmp_path / f"{name}-{payer}-{month}.csv", LEGACY_COLUMNS,
                                   part)))
    return paths
