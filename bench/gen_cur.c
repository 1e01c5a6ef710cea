/*
 * gen_cur: writes a realistic legacy AWS CUR file (gzip CSV) for benchmarks.
 *
 *   gen_cur ROWS SEED OUT.csv.gz [--plain]
 *
 * About 130 columns (the legacy lineItem, product, pricing, reservation and
 * savingsPlan columns, 10 resourceTags and 2 costCategory columns), rows
 * spread over one month and 20 usage accounts, with the mix of line item
 * types of a real account (mostly Usage; Savings Plans and reservations;
 * tax, fees, credits). Deterministic: the same ROWS and SEED give the same
 * bytes. Money is exact decimal text.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

static const char *const columns[] = {
	"identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/InvoicingEntity",
	"bill/BillingEntity", "bill/BillType", "bill/PayerAccountId", "bill/BillingPeriodStartDate",
	"bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType",
	"lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
	"lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone",
	"lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/NormalizationFactor",
	"lineItem/NormalizedUsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedRate",
	"lineItem/UnblendedCost", "lineItem/BlendedRate", "lineItem/BlendedCost",
	"lineItem/LineItemDescription", "lineItem/TaxType", "lineItem/LegalEntity",
	"product/ProductName", "product/availability", "product/capacitystatus",
	"product/classicnetworkingsupport", "product/clockSpeed", "product/currentGeneration",
	"product/dedicatedEbsThroughput", "product/durability", "product/ecu",
	"product/enhancedNetworkingSupported", "product/fromLocation", "product/fromLocationType",
	"product/group", "product/groupDescription", "product/instanceFamily",
	"product/instanceType", "product/instanceTypeFamily", "product/intelAvx2Available",
	"product/intelAvxAvailable", "product/intelTurboAvailable", "product/licenseModel",
	"product/location", "product/locationType", "product/marketoption", "product/maxIopsvolume",
	"product/maxThroughputvolume", "product/maxVolumeSize", "product/memory",
	"product/networkPerformance", "product/normalizationSizeFactor", "product/operatingSystem",
	"product/operation", "product/physicalCores", "product/physicalProcessor",
	"product/preInstalledSw", "product/processorArchitecture", "product/processorFeatures",
	"product/productFamily", "product/region", "product/regionCode", "product/servicecode",
	"product/servicename", "product/sku", "product/storage", "product/storageClass",
	"product/storageMedia", "product/tenancy", "product/toLocation", "product/toLocationType",
	"product/transferType", "product/usagetype", "product/vcpu", "product/volumeApiName",
	"product/volumeType", "product/vpcnetworkingsupport", "pricing/LeaseContractLength",
	"pricing/OfferingClass", "pricing/PurchaseOption", "pricing/RateCode", "pricing/RateId",
	"pricing/currency", "pricing/publicOnDemandCost", "pricing/publicOnDemandRate",
	"pricing/term", "pricing/unit", "reservation/AmortizedUpfrontCostForUsage",
	"reservation/AmortizedUpfrontFeeForBillingPeriod", "reservation/EffectiveCost",
	"reservation/EndTime", "reservation/ModificationStatus",
	"reservation/NormalizedUnitsPerReservation", "reservation/NumberOfReservations",
	"reservation/RecurringFeeForUsage", "reservation/ReservationARN", "reservation/StartTime",
	"reservation/SubscriptionId", "reservation/TotalReservedNormalizedUnits",
	"reservation/TotalReservedUnits", "reservation/UnitsPerReservation",
	"reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
	"reservation/UnusedNormalizedUnitQuantity", "reservation/UnusedQuantity",
	"reservation/UnusedRecurringFee", "reservation/UpfrontValue",
	"savingsPlan/TotalCommitmentToDate", "savingsPlan/SavingsPlanARN",
	"savingsPlan/SavingsPlanRate", "savingsPlan/UsedCommitment",
	"savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod",
	"savingsPlan/RecurringCommitmentForBillingPeriod", "resourceTags/user:Name",
	"resourceTags/user:team", "resourceTags/user:env", "resourceTags/user:service",
	"resourceTags/user:owner", "resourceTags/user:cost-center", "resourceTags/user:project",
	"resourceTags/user:app", "resourceTags/aws:createdBy", "resourceTags/user:k8s-cluster",
	"costCategory/Business Unit", "costCategory/Environment",
};
#define NCOL (sizeof(columns) / sizeof(columns[0]))

static uint64_t rng;

static uint64_t
next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(next() % n);
}

struct out {
	gzFile gz;
	FILE *plain;
	char buf[1 << 16];
	size_t len;
};

static void
flush(struct out *o)
{
	if (o->gz)
		gzwrite(o->gz, o->buf, (unsigned)o->len);
	else
		fwrite(o->buf, 1, o->len, o->plain);
	o->len = 0;
}

static void
put_raw(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 4 > sizeof(o->buf))
		flush(o);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* One row: a value per column, empty unless set. */
static char field[NCOL][192];

static size_t
col(const char *name)
{
	for (size_t c = 0; c < NCOL; c++)
		if (strcmp(columns[c], name) == 0)
			return c;
	fprintf(stderr, "gen_cur: no column %s\n", name);
	exit(1);
}

static void
set(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set(const char *name, const char *fmt, ...)
{
	/* Names are string literals: look each address up once. */
	static const char *seen[512];
	static size_t index[512];
	size_t h = ((uintptr_t)name >> 3) % 512;
	va_list ap;

	while (seen[h] && seen[h] != name)
		h = (h + 1) % 512;
	if (!seen[h]) {
		seen[h] = name;
		index[h] = col(name);
	}
	va_start(ap, fmt);
	vsnprintf(field[index[h]], sizeof(field[0]), fmt, ap);
	va_end(ap);
}

/* Writes the row as CSV, quoting fields that need it, and clears it. */
static void
emit_row(struct out *o)
{
	for (size_t c = 0; c < NCOL; c++) {
		const char *v = field[c];
		size_t n = strlen(v);

		if (c)
			put_raw(o, ",", 1);
		if (strpbrk(v, ",\"\n")) {
			put_raw(o, "\"", 1);
			for (size_t i = 0; i < n; i++) {
				if (v[i] == '"')
					put_raw(o, "\"", 1);
				put_raw(o, v + i, 1);
			}
			put_raw(o, "\"", 1);
		} else {
			put_raw(o, v, n);
		}
		field[c][0] = '\0';
	}
	put_raw(o, "\n", 1);
}

struct itype {
	const char *name, *family, *vcpu, *mem, *net, *proc;
	long rate_micro;   /* on-demand USD per hour in 1e-6 */
	const char *nf;
};

static const struct itype itypes[] = {
	{"m5.large", "General purpose", "2", "8 GiB", "Up to 10 Gigabit", "Intel Xeon Platinum 8175", 96000, "4"},
	{"m5.xlarge", "General purpose", "4", "16 GiB", "Up to 10 Gigabit", "Intel Xeon Platinum 8175", 192000, "8"},
	{"c5.2xlarge", "Compute optimized", "8", "16 GiB", "Up to 10 Gigabit", "Intel Xeon Platinum 8124M", 340000, "16"},
	{"r6g.large", "Memory optimized", "2", "16 GiB", "Up to 10 Gigabit", "AWS Graviton2 Processor", 100800, "4"},
	{"t3.medium", "General purpose", "2", "4 GiB", "Up to 5 Gigabit", "Intel Skylake E5 2686 v5", 41600, "2"},
	{"m6i.4xlarge", "General purpose", "16", "64 GiB", "Up to 12500 Megabit", "Intel Xeon 8375C", 768000, "32"},
};

static const char *const regions[][3] = {
	{"us-east-1", "US East (N. Virginia)", "USE1"},
	{"eu-west-1", "EU (Ireland)", "EU"},
	{"us-west-2", "US West (Oregon)", "USW2"},
};

static const char *const teams[] = {"payments", "search", "platform", "data", "ml", ""};
static const char *const envs[] = {"prod", "staging", "dev", ""};

static void
money(char *out, size_t len, long long v)   /* v in 1e-10 */
{
	const char *sign = v < 0 ? "-" : "";

	if (v < 0)
		v = -v;
	snprintf(out, len, "%s%lld.%010lld", sign, v / 10000000000LL, v % 10000000000LL);
}

int
main(int argc, char **argv)
{
	struct out o;
	long long rows;
	const char *payer = "123456789012";

	if (argc < 4) {
		fprintf(stderr, "usage: gen_cur ROWS SEED OUT.csv.gz [--plain]\n");
		return 2;
	}
	rows = atoll(argv[1]);
	rng = (uint64_t)atoll(argv[2]) * 0x9e3779b97f4a7c15ull + 1;
	memset(&o, 0, sizeof(o));
	if (argc > 4 && strcmp(argv[4], "--plain") == 0)
		o.plain = fopen(argv[3], "wb");
	else
		o.gz = gzopen(argv[3], "wb6");
	if (!o.gz && !o.plain) {
		perror(argv[3]);
		return 1;
	}
	for (size_t c = 0; c < NCOL; c++)
		snprintf(field[c], sizeof(field[c]), "%s", columns[c]);
	emit_row(&o);

	for (long long i = 0; i < rows; i++) {
		unsigned r = pick(1000), hour = (unsigned)(i % (30 * 24)), day = hour / 24 + 1;
		unsigned h = hour % 24;
		const struct itype *it = &itypes[pick(sizeof(itypes) / sizeof(itypes[0]))];
		const char *const *rg = regions[pick(3)];
		const char *type = r < 850 ? "Usage" : r < 900 ? "DiscountedUsage"
				   : r < 950 ? "SavingsPlanCoveredUsage" : r < 975 ? "SavingsPlanNegation"
				   : r < 985 ? "Tax" : r < 990 ? "RIFee" : r < 995 ? "SavingsPlanRecurringFee"
				   : r < 998 ? "Fee" : "Credit";
		int ec2 = r < 975 && pick(10) < 6;
		int ri = strcmp(type, "DiscountedUsage") == 0 || strcmp(type, "RIFee") == 0;
		int sp = strcmp(type, "SavingsPlanCoveredUsage") == 0 ||
			 strcmp(type, "SavingsPlanRecurringFee") == 0;
		long amount_e4 = ec2 ? 10000 : (long)pick(5000000) + 1;   /* 1e-4 units */
		long rate_e6 = ec2 ? it->rate_micro : (long)pick(30000) + 1;
		long long cost = (long long)amount_e4 * rate_e6;          /* 1e-10 */
		char c_cost[40], c_rate[40], c_eff[40], c_list[40];

		if (strcmp(type, "SavingsPlanNegation") == 0 || strcmp(type, "Credit") == 0)
			cost = -cost;
		if (strcmp(type, "DiscountedUsage") == 0)
			cost = 0;
		/* the hourly Savings Plan commitment: 1.00 an hour, 0.92 of it used */
		if (strcmp(type, "SavingsPlanRecurringFee") == 0)
			cost = 10000000000LL;
		money(c_cost, sizeof(c_cost), cost);
		money(c_rate, sizeof(c_rate), (long long)rate_e6 * 10000);
		money(c_eff, sizeof(c_eff), (long long)amount_e4 * rate_e6 * 62 / 100);
		money(c_list, sizeof(c_list), (long long)amount_e4 * rate_e6);

		set("identity/LineItemId", "%016llx%016llx%08llx", (unsigned long long)next(),
		    (unsigned long long)next(), (unsigned long long)i);
		set("identity/TimeInterval", "2026-10-%02uT%02u:00:00Z/2026-10-%02uT%02u:59:59Z", day, h,
		    day, h);
		set("bill/InvoicingEntity", "Amazon Web Services, Inc.");
		set("bill/BillingEntity", "AWS");
		set("bill/BillType", "Anniversary");
		set("bill/PayerAccountId", "%s", payer);
		set("bill/BillingPeriodStartDate", "2026-10-01T00:00:00Z");
		set("bill/BillingPeriodEndDate", "2026-11-01T00:00:00Z");
		set("lineItem/UsageAccountId", "%llu", 100000000000ull + pick(20) * 7919ull);
		set("lineItem/LineItemType", "%s", type);
		set("lineItem/UsageStartDate", "2026-10-%02uT%02u:00:00Z", day, h);
		set("lineItem/UsageEndDate", "2026-10-%02uT%02u:59:59Z", day, h);
		set("lineItem/ProductCode", "%s", ec2 ? "AmazonEC2" : "AmazonS3");
		set("lineItem/UsageType", "%s", ec2 ? "BoxUsage" : "TimedStorage-ByteHrs");
		set("lineItem/Operation", "%s", ec2 ? "RunInstances" : "StandardStorage");
		set("lineItem/AvailabilityZone", "%sa", rg[0]);
		if (ec2)
			set("lineItem/ResourceId", "i-%017llx", (unsigned long long)pick(400000));
		else
			set("lineItem/ResourceId", "bucket-%u-logs", pick(3000));
		set("lineItem/UsageAmount", "%ld.%04ld", amount_e4 / 10000, amount_e4 % 10000);
		set("lineItem/NormalizationFactor", "%s", ec2 ? it->nf : "");
		set("lineItem/NormalizedUsageAmount", "%ld.%04ld", amount_e4 / 10000, amount_e4 % 10000);
		set("lineItem/CurrencyCode", "USD");
		set("lineItem/UnblendedRate", "%s", c_rate);
		set("lineItem/UnblendedCost", "%s", c_cost);
		set("lineItem/BlendedRate", "%s", c_rate);
		set("lineItem/BlendedCost", "%s", c_cost);
		set("lineItem/LineItemDescription", "$%s per %s %s", c_rate,
		    ec2 ? "On Demand Linux" : "GB-Month of storage,", ec2 ? it->name : "used");
		set("lineItem/TaxType", "%s", strcmp(type, "Tax") == 0 ? "VAT" : "");
		set("lineItem/LegalEntity", "Amazon Web Services, Inc.");
		set("product/ProductName", "%s", ec2 ? "Amazon Elastic Compute Cloud"
						   : "Amazon Simple Storage Service");
		set("product/location", "%s", rg[1]);
		set("product/locationType", "AWS Region");
		set("product/region", "%s", rg[0]);
		set("product/regionCode", "%s", rg[0]);
		set("product/servicecode", "%s", ec2 ? "AmazonEC2" : "AmazonS3");
		set("product/sku", "%016llX", (unsigned long long)next());
		if (ec2) {
			set("product/capacitystatus", "Used");
			set("product/clockSpeed", "3.1 GHz");
			set("product/currentGeneration", "Yes");
			set("product/instanceFamily", "%s", it->family);
			set("product/instanceType", "%s", it->name);
			set("product/instanceTypeFamily", "%.2s", it->name);
			set("product/licenseModel", "No License required");
			set("product/marketoption", "OnDemand");
			set("product/memory", "%s", it->mem);
			set("product/networkPerformance", "%s", it->net);
			set("product/normalizationSizeFactor", "%s", it->nf);
			set("product/operatingSystem", "Linux");
			set("product/operation", "RunInstances");
			set("product/physicalProcessor", "%s", it->proc);
			set("product/preInstalledSw", "NA");
			set("product/processorArchitecture", "64-bit");
			set("product/processorFeatures", "Intel AVX, Intel AVX2, Intel Turbo");
			set("product/productFamily", "Compute Instance");
			set("product/storage", "EBS only");
			set("product/tenancy", "Shared");
			set("product/usagetype", "%s-BoxUsage:%s", rg[2], it->name);
			set("product/vcpu", "%s", it->vcpu);
		} else {
			set("product/durability", "99.999999999%%");
			set("product/productFamily", "Storage");
			set("product/storageClass", "General Purpose");
			set("product/volumeType", "Standard");
			set("product/usagetype", "%s-TimedStorage-ByteHrs", rg[2]);
		}
		set("pricing/RateCode", "%016llX.JRTCKXETXF.6YS6EN2CT7", (unsigned long long)next());
		set("pricing/RateId", "%u", pick(999999999));
		set("pricing/currency", "USD");
		set("pricing/publicOnDemandCost", "%s", c_list);
		set("pricing/publicOnDemandRate", "%s", c_rate);
		set("pricing/term", "%s", ri ? "Reserved" : "OnDemand");
		set("pricing/unit", "%s", ec2 ? "Hrs" : "GB-Mo");
		if (ri) {
			set("pricing/LeaseContractLength", "1yr");
			set("pricing/OfferingClass", "standard");
			set("pricing/PurchaseOption", "No Upfront");
			set("reservation/EffectiveCost", "%s", c_eff);
			set("reservation/EndTime", "2027-03-01T00:00:00.000Z");
			set("reservation/NumberOfReservations", "1");
			set("reservation/RecurringFeeForUsage", "%s", c_eff);
			set("reservation/ReservationARN", "arn:aws:ec2:%s:%s:reserved-instances/%016llx",
			    rg[0], payer, (unsigned long long)pick(50));
			set("reservation/StartTime", "2026-03-01T00:00:00.000Z");
			set("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "0.0125000000");
			set("reservation/UnusedRecurringFee", "0.0210000000");
		}
		if (sp) {
			set("savingsPlan/SavingsPlanARN", "arn:aws:savingsplans::%s:savingsplan/%08x", payer,
			    pick(20));
			set("savingsPlan/SavingsPlanRate", "0.0620000000");
		}
		if (strcmp(type, "SavingsPlanCoveredUsage") == 0)
			set("savingsPlan/SavingsPlanEffectiveCost", "%s", c_eff);
		if (strcmp(type, "SavingsPlanRecurringFee") == 0) {
			set("savingsPlan/TotalCommitmentToDate", "1.0000000000");
			set("savingsPlan/UsedCommitment", "0.9200000000");
			set("savingsPlan/RecurringCommitmentForBillingPeriod", "1.0000000000");
		}
		set("resourceTags/user:Name", "%s-%u", ec2 ? "web" : "logs", pick(900));
		set("resourceTags/user:team", "%s", teams[pick(6)]);
		set("resourceTags/user:env", "%s", envs[pick(4)]);
		set("resourceTags/user:service", "svc-%u", pick(40));
		set("resourceTags/user:owner", "owner%u@example.com", pick(60));
		set("resourceTags/user:cost-center", "cc-%u", pick(12));
		set("resourceTags/user:project", "proj-%u", pick(25));
		set("resourceTags/user:app", "%s", pick(3) ? "api" : "");
		set("resourceTags/aws:createdBy", "%s", pick(5) ? "" : "AssumedRole:AROA");
		set("resourceTags/user:k8s-cluster", "%s", pick(2) ? "eks-prod" : "");
		set("costCategory/Business Unit", "%s", pick(3) ? "Retail" : "Wholesale");
		set("costCategory/Environment", "%s", envs[pick(3)]);
		emit_row(&o);
	}
	flush(&o);
	if (o.gz)
		gzclose(o.gz);
	else
		fclose(o.plain);
	return 0;
}
