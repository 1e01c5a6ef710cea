/*
 * notify_fixture.h: the message the notification tests send and render, an
 * anomaly as anomaly_detect will report one.
 */
#ifndef FINOPS_NOTIFY_FIXTURE_H
#define FINOPS_NOTIFY_FIXTURE_H

#include "finops/notify.h"

static const struct fo_notify_fact fixture_facts[] = {
	{"Actual", "$1,250.00"}, {"Expected", "$310.40 (up to $420.00)"},
	{"Impact", "+$939.60 (+303%)"}, {"Since", "2026-11-02 (3 days)"},
};
static const char *const fixture_causes[] = {
	"AmazonEC2 / 123456789012 / us-east-1 / NatGateway-Bytes: +$812.10",
	"AmazonS3 / 123456789012 / us-east-1 / Requests-Tier1: +$97.50",
};

/* The message, with dedup key key. */
static inline struct fo_notify_message
fixture_message(const char *key)
{
	struct fo_notify_message m = {
		"cost_anomaly", key, "Cost anomaly: AmazonEC2 in 123456789012 <prod & co>",
		"Spend is $939.60 above the expected $310.40 a day since 2026-11-02.",
		fixture_facts, 4, "Top root causes", fixture_causes, 2, "Open the dashboard",
		"https://grafana.example.com/d/anomalies?var-id=17", "{\"anomaly_id\": 17}"};

	return m;
}

#endif
