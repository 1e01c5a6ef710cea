/*
 * idle.h: idle_stop, the playbook "Idle Resource -> stop instance, notify
 * owner" (docs/idle_stop.md). It acts on rightsizing_calc's current idle
 * findings: an instance that opts in by the policy's tags, is not tagged to
 * be kept, is no member of an Auto Scaling group, has an EBS root and is on
 * demand, is still idle on the freshest usage, still running and still the
 * type it was billed as (DescribeInstances), is stopped (never terminated)
 * through EC2 StopInstances, a DryRun first; at most a number a run. Without
 * --execute nothing is stopped: the plan is printed. Every decision is
 * recorded in finops.idle_stop_decisions, a finding is acted on once, and the
 * owner is told through the notification area (notify.h).
 */
#ifndef FINOPS_IDLE_H
#define FINOPS_IDLE_H

#include <stddef.h>

#include "finops/error.h"
#include "finops/notify.h"
#include "finops/run.h"

/* An opt-in rule: the tag key and the values that opt in (one matches: the instance opts in). */
struct fo_idle_rule {
	const char *tag;
	const char **values;
	size_t nvalues;
};

/* An owner (a tag value) and the channel it is told on. */
struct fo_idle_owner {
	const char *owner, *channel;
};

struct fo_idle_policy {
	const char *path;
	struct fo_idle_rule *opt_in;         /* any rule matching opts an instance in */
	size_t nopt_in;
	const char *keep_tag;                /* "finops:keep": never stopped (unless its value is "false") */
	const char **owner_tags;             /* the first of these an instance has names its owner */
	size_t nowner_tags;
	struct fo_notify_channel *channels;
	size_t nchannels;
	struct fo_idle_owner *owners;
	size_t nowners;
	const char *default_channel;         /* an owner without a channel of its own; NULL: none */
	int max_usage_age_hours;             /* the newest usage may be this old (6) */
	int max_finding_age_days;            /* the finding's window ended at most this long ago (3) */
	void *json;                          /* owns the strings */
};

/*
 * Reads a policy file; anything wrong is FO_EXIT_USAGE naming the file and
 * the JSON path. Nothing is changed.
 */
int fo_idle_policy_load(struct fo_idle_policy *p, const char *path, fo_err *err);
int fo_idle_policy_parse(struct fo_idle_policy *p, const char *name, const char *text,
			 size_t len, fo_err *err);
void fo_idle_policy_free(struct fo_idle_policy *p);

/* The channel an owner is told on (its own, else the default), or NULL. */
const struct fo_notify_channel *fo_idle_channel_of(const struct fo_idle_policy *p,
						    const char *owner);

struct fo_idle_opts {
	const char *policy_path;   /* --policy */
	int execute;               /* --execute: stop; otherwise a plan */
	int max_instances;         /* --max-instances (10) */
	const char *as_of;         /* --as-of: the time freshness is judged at (NULL: now) */
	const char **regions;      /* --region (repeatable); none: every region found */
	size_t nregions;
	int no_notify;
	struct fo_idle_policy policy;   /* loaded by fo_idle_check */
};

void fo_idle_defaults(struct fo_idle_opts *o);
int fo_idle_add_region(struct fo_idle_opts *o, const char *region, fo_err *err);
int fo_idle_check(struct fo_idle_opts *o, fo_err *err);
int fo_idle_run(struct fo_run *ctx, struct fo_idle_opts *o, fo_err *err);
void fo_idle_opts_free(struct fo_idle_opts *o);

#endif
