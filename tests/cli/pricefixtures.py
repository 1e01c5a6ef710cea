"""AWS Price List fixtures written from the published format: a region index
(region_index.json) and regional EC2 offer files in their CSV form (five
metadata lines, the 91-column header of the real files, quoted values,
empty fields bare; a Reserved "Partial/All Upfront" term is an Hrs row plus
a Quantity "Upfront Fee" row).
"""
import csv
import io
import json
import os

HEADER = [
    "SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate",
    "StartingRange", "EndingRange", "Unit", "PricePerUnit", "Currency", "RelatedTo",
    "LeaseContractLength", "PurchaseOption", "OfferingClass", "Product Family", "serviceCode",
    "Location", "Location Type", "Instance Type", "Current Generation", "Instance Family",
    "vCPU", "Physical Processor", "Clock Speed", "Memory", "Storage", "Network Performance",
    "Processor Architecture", "Storage Media", "Volume Type", "Max Volume Size",
    "Max IOPS/volume", "Max IOPS Burst Performance", "Max throughput/volume", "Provisioned",
    "Tenancy", "EBS Optimized", "Operating System", "License Model", "Group",
    "Group Description", "Transfer Type", "From Location", "From Location Type", "To Location",
    "To Location Type", "usageType", "operation", "AvailabilityZone", "CapacityStatus",
    "ClassicNetworkingSupport", "Dedicated EBS Throughput", "ECU", "Elastic Graphics Type",
    "Enhanced Networking Supported", "From Region Code", "GPU", "GPU Memory", "Instance",
    "Instance Capacity - 10xlarge", "Instance Capacity - 12xlarge",
    "Instance Capacity - 16xlarge", "Instance Capacity - 18xlarge",
    "Instance Capacity - 24xlarge", "Instance Capacity - 2xlarge",
    "Instance Capacity - 32xlarge", "Instance Capacity - 4xlarge",
    "Instance Capacity - 8xlarge", "Instance Capacity - 9xlarge", "Instance Capacity - large",
    "Instance Capacity - medium", "Instance Capacity - metal", "Instance Capacity - xlarge",
    "instanceSKU", "Intel AVX2 Available", "Intel AVX Available", "Intel Turbo Available",
    "MarketOption", "Normalization Size Factor", "Physical Cores", "Pre Installed S/W",
    "Processor Features", "Product Type", "Region Code", "Resource Type", "serviceName",
    "SnapshotArchiveFeeType", "To Region Code", "Volume API Name", "VPCNetworkingSupport",
]
assert len(HEADER) == 91

# type -> (family, vcpu, memory, processor, gpu, network, storage)
TYPES = {
    "m5.large": ("General purpose", "2", "8 GiB", "Intel Xeon Platinum 8175", "NA",
                 "Up to 10 Gigabit", "EBS only"),
    "m6g.xlarge": ("General purpose", "4", "16 GiB", "AWS Graviton2 Processor", "NA",
                   "Up to 10 Gigabit", "EBS only"),
    "c5.2xlarge": ("Compute optimized", "8", "16 GiB", "Intel Xeon Platinum 8124M", "NA",
                   "Up to 10 Gigabit", "EBS only"),
    "p3.2xlarge": ("GPU instance", "8", "61 GiB", "Intel Xeon E5-2686 v4 (Broadwell)", "1",
                   "Up to 10 Gigabit", "EBS only"),
    "u-12tb1.metal": ("Memory optimized", "448", "12,288 GiB", "Intel Xeon Platinum 8176M",
                      "NA", "100 Gigabit", "EBS only"),
}
ONDEMAND_TERM = "JRTCKXETXF"


def row(sku, itype, region, term="OnDemand", price="0.1", unit="Hrs", os_="Linux",
        tenancy="Shared", lease="", purchase="", offering="", capacity="Used",
        family="Compute Instance", term_code=ONDEMAND_TERM, description=None, market="OnDemand",
        usage=None, sw="NA"):
    fam, vcpu, mem, proc, gpu, net, storage = TYPES.get(itype, TYPES["m5.large"])
    d = dict.fromkeys(HEADER, "")
    d.update({
        "SKU": sku, "OfferTermCode": term_code, "RateCode": f"{sku}.{term_code}.6YS6EN2CT7",
        "TermType": term, "PriceDescription": description or
        f"${price} per On Demand {os_} {itype} Instance Hour", "EffectiveDate": "2025-09-01",
        "StartingRange": "0", "EndingRange": "Inf", "Unit": unit, "PricePerUnit": price,
        "Currency": "USD", "LeaseContractLength": lease, "PurchaseOption": purchase,
        "OfferingClass": offering, "Product Family": family, "serviceCode": "AmazonEC2",
        "Location": "US East (N. Virginia)", "Location Type": "AWS Region",
        "Instance Type": itype, "Current Generation": "Yes", "Instance Family": fam,
        "vCPU": vcpu, "Physical Processor": proc, "Clock Speed": "3.1 GHz", "Memory": mem,
        "Storage": storage, "Network Performance": net, "Processor Architecture": "64-bit",
        "Tenancy": tenancy, "Operating System": os_, "License Model": "No License required",
        "usageType": usage or f"BoxUsage:{itype}", "operation": "RunInstances",
        "CapacityStatus": capacity, "GPU": gpu, "MarketOption": market,
        "Pre Installed S/W": sw, "Region Code": region, "serviceName":
        "Amazon Elastic Compute Cloud"})
    return [d[h] for h in HEADER]


def offer_rows(region, factor=1.0, types=None):
    """A region's prices: On-Demand for each type, Reserved for m5.large, and
    rows the catalog must skip (one per reason)."""
    rows = []
    for n, t in enumerate(types or TYPES):
        base = {"m5.large": 0.096, "m6g.xlarge": 0.154, "c5.2xlarge": 0.34,
                "p3.2xlarge": 3.06, "u-12tb1.metal": 109.2}[t]
        sku = f"{region[:2].upper()}{n:02d}SKU{t.replace('.', '').upper()}"[:16]
        rows.append(row(sku, t, region, price=f"{base * factor:.10f}"))
        rows.append(row(sku, t, region, price=f"{base * factor * 4:.10f}", os_="Windows",
                        term_code="WINDOWSTRM"))
    sku = rows[0][0]
    rows += [
        row(sku, "m5.large", region, "Reserved", f"{0.060 * factor:.10f}", lease="1yr",
            purchase="No Upfront", offering="standard", term_code="4NA7Y494T4"),
        row(sku, "m5.large", region, "Reserved", f"{0.029 * factor:.10f}", lease="1yr",
            purchase="Partial Upfront", offering="standard", term_code="HU7G6KETJZ"),
        row(sku, "m5.large", region, "Reserved", "252", unit="Quantity", lease="1yr",
            purchase="Partial Upfront", offering="standard", term_code="HU7G6KETJZ",
            description="Upfront Fee"),
        row(sku, "m5.large", region, "Reserved", "0.0000000000", lease="3yr",
            purchase="All Upfront", offering="convertible", term_code="7NE97W5U4E"),
        row(sku, "m5.large", region, "Reserved", "1231", unit="Quantity", lease="3yr",
            purchase="All Upfront", offering="convertible", term_code="7NE97W5U4E",
            description="Upfront Fee"),
        # skipped: another product family, unused capacity, a host placeholder,
        # a capacity block
        row("EBSSKU000000000", "", region, family="Storage", price="0.08", unit="GB-Mo"),
        row("UNUSEDSKU000000", "m5.large", region, capacity="UnusedCapacityReservation",
            usage="UnusedBox:m5.large"),
        row("HOSTSKU00000000", "m5.large", region, tenancy="Host", price="0",
            usage="HostBoxUsage:m5.large"),
        row("BLOCKSKU0000000", "p3.2xlarge", region, market="CapacityBlock", price="2.0"),
    ]
    return rows


def offer_csv(version, rows, publication="2026-11-01T00:00:00Z", header=None):
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for k, v in [("FormatVersion", "v1.0"), ("Disclaimer", "This pricing list is for"
                 " informational purposes only."), ("Publication Date", publication),
                 ("Version", version), ("OfferCode", "AmazonEC2")]:
        w.writerow([k, v])
    w.writerow(header or HEADER)
    for r in rows:
        w.writerow(r)
    # the real files leave empty fields bare
    return out.getvalue().replace(',""', ",")


def write_offer(root, version, region, text):
    d = os.path.join(root, "offers", "v1.0", "aws", "AmazonEC2", version, region)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "index.csv"), "w") as f:
        f.write(text)


def write_index(root, versions):
    """versions: region -> offer version."""
    d = os.path.join(root, "offers", "v1.0", "aws", "AmazonEC2", "current")
    os.makedirs(d, exist_ok=True)
    index = {"formatVersion": "v1.0", "disclaimer": "For informational purposes only.",
             "publicationDate": "2026-11-01T00:00:00Z", "regions": {
                 r: {"regionCode": r, "currentVersionUrl":
                     f"/offers/v1.0/aws/AmazonEC2/{v}/{r}/index.json"}
                 for r, v in versions.items()}}
    with open(os.path.join(d, "region_index.json"), "w") as f:
        json.dump(index, f)
