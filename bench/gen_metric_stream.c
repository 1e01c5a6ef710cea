/*
 * gen_metric_stream: CloudWatch Metric Streams output (JSON lines) for the
 * usage_ingest benchmark, on stdout.
 *
 *   gen_metric_stream INSTANCES DAYS [SEED]
 *
 * For every 5 minutes (EC2 basic monitoring) from 2026-10-01T00:00:00Z over
 * DAYS days, and every instance, one line each of AWS/EC2 CPUUtilization,
 * NetworkIn and NetworkOut, and CWAgent mem_used_percent for two instances
 * in three; time-major, as Firehose delivers them. Deterministic by seed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define START 1790812800LL      /* 2026-10-01T00:00:00Z */

static uint64_t state;

static double
rnd(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (double)((state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

static void
line(long i, long long t, const char *ns, const char *metric, double v, const char *unit)
{
	printf("{\"metric_stream_name\":\"finops\",\"account_id\":\"%012ld\","
	       "\"region\":\"us-east-1\",\"namespace\":\"%s\",\"metric_name\":\"%s\","
	       "\"dimensions\":{\"InstanceId\":\"i-%017lx\"},\"timestamp\":%lld000,"
	       "\"value\":{\"max\":%.4f,\"min\":%.4f,\"sum\":%.4f,\"count\":1.0},"
	       "\"unit\":\"%s\"}\n", 100000000000L + i % 50, ns, metric, i, t, v, v, v, unit);
}

int
main(int argc, char **argv)
{
	long instances, days;
	static char buf[1 << 20];

	if (argc < 3) {
		fprintf(stderr, "usage: %s INSTANCES DAYS [SEED]\n", argv[0]);
		return 2;
	}
	instances = atol(argv[1]);
	days = atol(argv[2]);
	state = argc > 3 ? strtoull(argv[3], NULL, 10) * 2654435761u + 1 : 42;
	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	for (long long t = START; t < START + days * 86400LL; t += 300) {
		for (long i = 0; i < instances; i++) {
			double cpu = 100 * rnd(), in = 1e6 * rnd(), out = 5e5 * rnd();

			line(i, t, "AWS/EC2", "CPUUtilization", cpu, "Percent");
			line(i, t, "AWS/EC2", "NetworkIn", in, "Bytes");
			line(i, t, "AWS/EC2", "NetworkOut", out, "Bytes");
			if (i % 3 != 2)
				line(i, t, "CWAgent", "mem_used_percent", 20 + 70 * rnd(), "Percent");
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
