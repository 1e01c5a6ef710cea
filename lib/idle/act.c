/*
 * act.c: idle_stop's run (idle.h, docs/idle_stop.md): the current idle
 * findings checked against the policy, EC2's own view and the freshest
 * usage; the eligible ones stopped (a DryRun first), every decision
 * recorded, the owners told.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finops/buf.h"
#include "finops/datetime.h"
#include "finops/idle.h"
#include "finops/log.h"
#include "finops/notify.h"
#include "finops/pg.h"
#include "finops/stop.h"
#include "aws/ec2.h"

/* rightsizing_calc's idle thresholds (docs/rightsizing.md), applied to the last day. */
#define IDLE_CPU_PERCENT 10.0
#define IDLE_NET_BYTES_A_DAY 5e6
#define MIN_RECENT_HOURS 12        /* of the last 24 with a CPU datapoint */
#define MAX_REGIONS 64

enum action { A_SKIPPED, A_WOULD_STOP, A_STOPPED, A_FAILED, A_DONE_BEFORE };
static const char *const action_name[] = {"skipped", "would_stop", "stopped", "failed", NULL};

struct cand {
	const char *rs_run, *id, *account, *region, *type, *finding, *saving, *saving_eff;
	enum action action;
	int judged;                /* EC2's answer checked */
	int recorded;
	const char *why;           /* a short code: "not_opted_in"; NULL when eligible */
	char reason[512];
	char answer[600];          /* EC2's */
	char owner[257];
	const struct fo_notify_channel *ch;
};

void
fo_idle_defaults(struct fo_idle_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_instances = 10;
}

int
fo_idle_add_region(struct fo_idle_opts *o, const char *region, fo_err *err)
{
	const char **more;

	if (!*region || strlen(region) > 32 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-")
	    != strlen(region))
		return fo_err_set(err, FO_EXIT_USAGE, "--region %s: not a region name such as"
				  " eu-west-1", region);
	if (o->nregions == MAX_REGIONS)
		return fo_err_set(err, FO_EXIT_USAGE, "--region: at most %d", MAX_REGIONS);
	more = realloc(o->regions, (o->nregions + 1) * sizeof(*more));
	if (!more)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	o->regions = more;
	o->regions[o->nregions++] = region;
	return 0;
}

static int
as_of_s(const struct fo_idle_opts *o, int64_t *out, fo_err *err)
{
	struct fo_ts t;
	const char *why;

	if (!o->as_of) {
		*out = (int64_t)time(NULL);
		return 0;
	}
	if (fo_ts_parse(o->as_of, strlen(o->as_of), &t, &why) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "--as-of %s: %s", o->as_of, why);
	*out = t.epoch_s;
	return 0;
}

int
fo_idle_check(struct fo_idle_opts *o, fo_err *err)
{
	int64_t t;

	if (as_of_s(o, &t, err) < 0)
		return -1;
	if (!o->policy_path)
		return fo_err_set(err, FO_EXIT_USAGE, "--policy FILE is required: which instances"
				  " may be stopped and whom to tell (docs/idle_stop.md)");
	return fo_idle_policy_load(&o->policy, o->policy_path, err);
}

void
fo_idle_opts_free(struct fo_idle_opts *o)
{
	fo_idle_policy_free(&o->policy);
	free(o->regions);
	o->regions = NULL;
}

static void
skip(struct cand *c, const char *why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
skip(struct cand *c, const char *why, const char *fmt, ...)
{
	va_list ap;

	c->action = A_SKIPPED;
	c->why = why;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

/* Whether the policy's rules opt the instance in; which one, in rule. */
static int
opted_in(const struct fo_idle_policy *p, const struct fo_ec2_instance *in, char *rule,
	 size_t len)
{
	for (size_t r = 0; r < p->nopt_in; r++) {
		const char *v = fo_ec2_tag(in, p->opt_in[r].tag);

		for (size_t k = 0; v && k < p->opt_in[r].nvalues; k++)
			if (strcmp(v, p->opt_in[r].values[k]) == 0) {
				snprintf(rule, len, "%s=%s", p->opt_in[r].tag, v);
				return 1;
			}
	}
	return 0;
}

/* The checks EC2's answer allows: the policy, the state, the type. */
static void
judge_instance(const struct fo_idle_policy *p, struct cand *c, const struct fo_ec2_instance *in,
	       char *rule, size_t len)
{
	const char *keep = in ? fo_ec2_tag(in, p->keep_tag) : NULL;

	for (size_t t = 0; in && t < p->nowner_tags && !c->owner[0]; t++) {
		const char *v = fo_ec2_tag(in, p->owner_tags[t]);

		if (v && *v)
			snprintf(c->owner, sizeof(c->owner), "%s", v);
	}
	c->ch = fo_idle_channel_of(p, c->owner[0] ? c->owner : NULL);
	if (!in)
		skip(c, "not_found", "EC2 DescribeInstances in %s does not know it (terminated?)",
		     c->region);
	else if (strcmp(in->state, "running") != 0)
		skip(c, "not_running", "it is %s, not running", in->state);
	else if (keep && strcmp(keep, "false") != 0)
		skip(c, "keep_tag", "tagged %s=%s: never stopped", p->keep_tag, keep);
	else if (fo_ec2_tag(in, "aws:autoscaling:groupName"))
		skip(c, "auto_scaling_group", "a member of Auto Scaling group %s, which would replace"
		     " it: scale the group in instead", fo_ec2_tag(in, "aws:autoscaling:groupName"));
	else if (strcmp(in->root_device_type, "ebs") != 0)
		skip(c, "instance_store_root", "its root device is %s: stopping it would lose its"
		     " root volume", in->root_device_type[0] ? in->root_device_type : "not EBS");
	else if (in->lifecycle[0])
		skip(c, "not_on_demand", "a %s instance: its request decides its stops",
		     in->lifecycle);
	else if (!opted_in(p, in, rule, len))
		skip(c, "not_opted_in", "no opt-in tag of the policy (%s%s)", p->opt_in[0].tag,
		     p->nopt_in > 1 ? ", ..." : "");
	else if (c->type[0] && strcmp(in->type, c->type) != 0)
		skip(c, "type_changed", "it runs as %s now, not %s as the finding was billed: the"
		     " finding is out of date", in->type, c->type);
}

/* The checks the database allows: the finding's age, the freshest usage. */
static void
judge_usage(const struct fo_idle_policy *p, struct cand *c, const PGresult *res, int r)
{
	const char *last = PQgetvalue(res, r, 9);
	int hours = atoi(PQgetvalue(res, r, 11));
	double cpu = atof(PQgetvalue(res, r, 12)), net = atof(PQgetvalue(res, r, 13));

	if (*PQgetvalue(res, r, 15) == 't')
		skip(c, "started_again", "finops stopped it on %s and it was started again since:"
		     " left to its owner", PQgetvalue(res, r, 16));
	else if (*PQgetvalue(res, r, 8) == 't')
		skip(c, "finding_stale", "the finding's window ended %s, more than %d days ago:"
		     " rightsizing_calc has not run since", PQgetvalue(res, r, 17),
		     p->max_finding_age_days);
	else if (PQgetisnull(res, r, 9))
		skip(c, "usage_stale", "no usage of it before the time judged at");
	else if (*PQgetvalue(res, r, 10) == 't')
		skip(c, "usage_stale", "its newest usage is of the hour from %s, more than %d h"
		     " old: usage_ingest is behind", last, p->max_usage_age_hours);
	else if (hours < MIN_RECENT_HOURS)
		skip(c, "usage_stale", "%d hours of CPU data in the 24 h to %s; %d needed", hours,
		     last, MIN_RECENT_HOURS);
	else if (cpu > IDLE_CPU_PERCENT || net * 24 / hours > IDLE_NET_BYTES_A_DAY)
		skip(c, "busy", "no longer idle: average CPU %.1f%%, network %.1f MB a day over the"
		     " 24 h to %s", cpu, net * 24 / hours / 1e6, last);
}

static int
record(struct fo_run *ctx, struct cand *c, fo_err *err)
{
	char run[24];
	const char *p[15];

	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	p[0] = run;
	p[1] = c->rs_run;
	p[2] = c->id;
	p[3] = c->account[0] ? c->account : NULL;
	p[4] = c->region[0] ? c->region : NULL;
	p[5] = c->type[0] ? c->type : NULL;
	p[6] = c->finding;
	p[7] = c->saving;
	p[8] = c->saving_eff;
	p[9] = c->owner[0] ? c->owner : NULL;
	p[10] = c->ch ? c->ch->name : NULL;
	p[11] = action_name[c->action];
	p[12] = c->why ? c->why : "eligible";
	p[13] = c->reason;
	p[14] = c->answer[0] ? c->answer : NULL;
	c->recorded = 1;
	return fo_pg_query(ctx->conn,
		"INSERT INTO finops.idle_stop_decisions (run_id, rightsizing_run_id, instance_id,"
		"  account_id, region, instance_type, finding, monthly_saving_list,"
		"  monthly_saving_effective, owner, channel, action, why, reason, ec2_answer)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)", 15, p,
		NULL, err);
}

/* The current idle findings with their freshest usage and what was done before. */
static int
findings(struct fo_run *ctx, const struct fo_idle_opts *o, const char *as_of, PGresult **res,
	 fo_err *err)
{
	fo_buf regions = FO_BUF_INIT;
	char fdays[16], uhours[16];
	int rc;

	snprintf(fdays, sizeof(fdays), "%d", o->policy.max_finding_age_days);
	snprintf(uhours, sizeof(uhours), "%d", o->policy.max_usage_age_hours);
	if (o->nregions)
		fo_pg_text_array(&regions, o->regions, o->nregions);
	rc = fo_pg_query(ctx->conn,
		"SELECT r.run_id, r.instance_id, coalesce(r.account_id, ''), coalesce(r.region, ''),"
		"       coalesce(r.current_type, ''), r.reason, r.monthly_saving_list::text,"
		"       r.monthly_saving_effective::text,"
		"       run.window_end < $1::timestamptz - make_interval(days => $2::int),"
		"       to_char(u.last_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"'),"
		"       u.last_hour + interval '1 hour'"
		"         < $1::timestamptz - make_interval(hours => $3::int),"
		"       coalesce(u.hours, 0), coalesce(u.cpu, 0), coalesce(u.net, 0),"
		"       EXISTS (SELECT 1 FROM finops.idle_stop_decisions d"
		"                WHERE d.rightsizing_run_id = r.run_id"
		"                  AND d.instance_id = r.instance_id AND d.action = 'stopped'),"
		"       prior.at IS NOT NULL, to_char(prior.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
		"       to_char(run.window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"')"
		"  FROM finops.rightsizing_current r"
		"  JOIN finops.rightsizing_runs run USING (run_id)"
		"  LEFT JOIN LATERAL ("
		"        SELECT l.last_hour, count(h.cpu_avg) AS hours, avg(h.cpu_avg) AS cpu,"
		"               sum(coalesce(h.net_in_bytes, 0) + coalesce(h.net_out_bytes, 0)) AS net"
		"          FROM (SELECT max(hour) AS last_hour FROM finops.instance_usage_hourly"
		"                 WHERE instance_id = r.instance_id"
		"                   AND hour < $1::timestamptz) l"
		"          JOIN finops.instance_usage_hourly h ON h.instance_id = r.instance_id"
		"           AND h.hour > l.last_hour - interval '24 hours' AND h.hour <= l.last_hour"
		"         GROUP BY l.last_hour) u ON true"
		"  LEFT JOIN LATERAL ("
		"        SELECT max(d.decided_at) AS at FROM finops.idle_stop_decisions d"
		"         WHERE d.instance_id = r.instance_id AND d.action = 'stopped'"
		"           AND d.rightsizing_run_id <> r.run_id) prior ON true"
		" WHERE r.finding = 'idle' AND ($4::text[] IS NULL OR r.region = ANY ($4::text[]))"
		" ORDER BY r.monthly_saving_list DESC, r.instance_id", 4,
		(const char *[]){as_of, fdays, uhours, o->nregions ? regions.data : NULL}, res, err);
	fo_buf_free(&regions);
	return rc;
}

/* DescribeInstances for the candidates of each region, then the EC2 checks. */
static int
describe(const struct fo_idle_opts *o, struct cand *c, size_t n, fo_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const char **ids;
		struct fo_ec2_instance *in;
		size_t nids = 0, nin;
		char rule[300];

		if (c[i].action != A_WOULD_STOP || c[i].judged)
			continue;
		/* the first candidate of a region not yet asked: ask for the whole region */
		ids = calloc(n, sizeof(*ids));
		if (!ids)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		for (size_t k = i; k < n; k++)
			if (c[k].action == A_WOULD_STOP && !c[k].judged &&
			    strcmp(c[k].region, c[i].region) == 0)
				ids[nids++] = c[k].id;
		if (fo_ec2_describe(c[i].region, ids, nids, &in, &nin, err) < 0) {
			free(ids);
			return -1;
		}
		free(ids);
		for (size_t k = i; k < n; k++) {
			const struct fo_ec2_instance *found = NULL;

			if (c[k].action != A_WOULD_STOP || c[k].judged ||
			    strcmp(c[k].region, c[i].region) != 0)
				continue;
			for (size_t j = 0; j < nin && !found; j++)
				if (strcmp(in[j].id, c[k].id) == 0)
					found = &in[j];
			rule[0] = '\0';
			judge_instance(&o->policy, &c[k], found, rule, sizeof(rule));
			if (c[k].action == A_WOULD_STOP)
				snprintf(c[k].reason, sizeof(c[k].reason), "opted in by %s; idle on the"
					 " freshest usage; running as %s", rule, found->type);
			c[k].judged = 1;
		}
		fo_ec2_instances_free(in, nin);
	}
	return 0;
}

static void
money(const char *v, char *out, size_t len)
{
	fo_notify_money(atof(v), "USD", out, len);
}

static int
tell(struct fo_run *ctx, const struct fo_idle_opts *o, int *sent, int *failed, fo_err *err)
{
	PGresult *res;
	fo_err worst;
	int rc;

	fo_err_clear(&worst);
	rc = fo_pg_query(ctx->conn,
		"SELECT decision_id, rightsizing_run_id, instance_id, coalesce(account_id, ''),"
		"       coalesce(region, ''), coalesce(instance_type, ''), finding,"
		"       monthly_saving_list::text, coalesce(owner, ''), channel,"
		"       to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')"
		"  FROM finops.idle_stop_decisions"
		" WHERE action = 'stopped' AND NOT notified AND channel IS NOT NULL"
		" ORDER BY decision_id", 0, NULL, &res, err);
	if (rc < 0)
		return -1;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		const char *id = PQgetvalue(res, r, 2), *region = PQgetvalue(res, r, 4);
		const char *type = PQgetvalue(res, r, 5), *owner = PQgetvalue(res, r, 8);
		const struct fo_notify_channel *ch = NULL;
		char title[300], summary[1200], key[128], saves[48], start[200], optout[200];
		enum fo_notify_outcome out;
		fo_err e;

		for (size_t i = 0; i < o->policy.nchannels && !ch; i++)
			if (strcmp(o->policy.channels[i].name, PQgetvalue(res, r, 9)) == 0)
				ch = &o->policy.channels[i];
		if (!ch) {
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("instance", id),
				FO_STR("channel", PQgetvalue(res, r, 9))), "the stop of %s is not told:"
				" channel %s is no longer in the policy", id, PQgetvalue(res, r, 9));
			continue;
		}
		money(PQgetvalue(res, r, 7), saves, sizeof(saves));
		snprintf(title, sizeof(title), "Stopped idle EC2 instance %s (%s, %s)", id, type,
			 region);
		snprintf(summary, sizeof(summary), "finops stopped %s%s%s on %s because it was idle:"
			 " %s. Stopped, not terminated: its volumes and data are kept, and it saves"
			 " about %s a month while stopped.", id, owner[0] ? " of " : "", owner,
			 PQgetvalue(res, r, 10), PQgetvalue(res, r, 6), saves);
		snprintf(start, sizeof(start), "aws ec2 start-instances --region %s --instance-ids %s",
			 region, id);
		snprintf(optout, sizeof(optout), "tag it %s=true and it is never stopped again",
			 o->policy.keep_tag);
		snprintf(key, sizeof(key), "idle-stop:%s:%s", PQgetvalue(res, r, 1), id);
		{
			struct fo_notify_fact facts[] = {
				{"Instance", id}, {"Type", type}, {"Region", region},
				{"Account", PQgetvalue(res, r, 3)}, {"Owner", owner[0] ? owner : "unknown"},
				{"Saves", saves}, {"Start it again", start}, {"Opt out", optout},
			};
			struct fo_notify_message m = {
				.event = "idle_instance_stopped", .dedup_key = key, .title = title,
				.summary = summary, .facts = facts, .nfacts = 8,
			};

			fo_err_clear(&e);
			if (fo_notify_send(ctx->conn, ctx->run_id, ch, &m, &out, &e) < 0) {
				(*failed)++;
				if (worst.code == FO_EXIT_OK || e.code == FO_EXIT_USAGE)
					worst = e;
				continue;
			}
		}
		*sent += out == FO_NOTIFY_SENT;
		rc = fo_pg_query(ctx->conn, "UPDATE finops.idle_stop_decisions SET notified = true"
				 " WHERE decision_id = $1", 1, (const char *[]){PQgetvalue(res, r, 0)},
				 NULL, err);
	}
	PQclear(res);
	if (rc == 0 && worst.code != FO_EXIT_OK) {
		*err = worst;
		rc = -1;
	}
	return rc;
}

static void
plan_line(const struct cand *c, int execute)
{
	char saves[48];
	const char *what = c->action == A_STOPPED ? "STOPPED" : c->action == A_WOULD_STOP ?
			   (execute ? "not stopped" : "WOULD STOP") : c->action == A_FAILED ?
			   "FAILED" : "skip";

	money(c->saving, saves, sizeof(saves));
	printf("  %-20s %-14s %-13s %12s  %-16s %-11s ", c->id, c->region, c->type, saves,
	       c->owner[0] ? c->owner : "-", what);
	if (c->action == A_STOPPED)
		printf("%s (EC2: %s)\n", c->reason, c->answer);
	else if (c->action == A_WOULD_STOP)
		printf("%s; the DryRun passed\n", c->reason);
	else if (c->action == A_FAILED)
		printf("%s: %s\n", c->why, c->answer);
	else
		printf("%s: %s\n", c->why, c->reason);
}

int
fo_idle_run(struct fo_run *ctx, struct fo_idle_opts *o, fo_err *err)
{
	PGresult *res = NULL;
	struct cand *c = NULL;
	struct fo_ts t;
	char as_of[40], saved[48];
	int64_t now_s;
	int n = 0, stopped = 0, would = 0, skipped = 0, failed = 0, before = 0, sent = 0,
	    tell_failed = 0, rc, acted = 0;
	double saving = 0;
	fo_err fatal;

	fo_err_clear(&fatal);
	if (as_of_s(o, &now_s, err) < 0)
		return -1;
	t.epoch_s = now_s;
	t.micros = 0;
	fo_ts_format(&t, as_of, sizeof(as_of));
	rc = fo_run_lock(ctx, "idle_stop", err);
	if (rc == 0)
		rc = findings(ctx, o, as_of, &res, err);
	if (rc < 0)
		return -1;
	n = PQntuples(res);
	ctx->rows_read += n;
	c = calloc((size_t)n + 1, sizeof(*c));
	if (!c) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (int r = 0; r < n; r++) {
		struct cand *k = &c[r];

		k->rs_run = PQgetvalue(res, r, 0);
		k->id = PQgetvalue(res, r, 1);
		k->account = PQgetvalue(res, r, 2);
		k->region = PQgetvalue(res, r, 3);
		k->type = PQgetvalue(res, r, 4);
		k->finding = PQgetvalue(res, r, 5);
		k->saving = PQgetvalue(res, r, 6);
		k->saving_eff = PQgetvalue(res, r, 7);
		k->action = *PQgetvalue(res, r, 14) == 't' ? A_DONE_BEFORE : A_WOULD_STOP;
		if (k->action == A_WOULD_STOP && !k->region[0])
			skip(k, "no_region", "the finding has no region");
	}
	rc = describe(o, c, (size_t)n, err);
	for (int r = 0; rc == 0 && r < n; r++)
		if (c[r].action == A_WOULD_STOP)
			judge_usage(&o->policy, &c[r], res, r);
	/* the eligible ones, largest saving first, up to the cap */
	for (int r = 0; rc == 0 && r < n; r++) {
		struct cand *k = &c[r];
		enum fo_ec2_stop result;

		if (k->action != A_WOULD_STOP)
			continue;
		if (fatal.code != FO_EXIT_OK || fo_stop_requested()) {
			skip(k, "not_tried", "not tried: the run ended first (%s)",
			     fatal.code != FO_EXIT_OK ? fatal.msg : "interrupted");
			continue;
		}
		if (acted == o->max_instances) {
			skip(k, "over_cap", "--max-instances %d reached this run", o->max_instances);
			continue;
		}
		acted++;
		if (fo_ec2_stop_instance(k->region, k->id, 1, &result, k->answer, sizeof(k->answer),
					 &fatal) == 0 && result == FO_EC2_WOULD_STOP && o->execute)
			fo_ec2_stop_instance(k->region, k->id, 0, &result, k->answer,
					     sizeof(k->answer), &fatal);
		if (fatal.code != FO_EXIT_OK) {
			/* a denial (or EC2 gone) is recorded against the instance; the run ends */
			k->action = A_FAILED;
			k->why = fatal.code == FO_EXIT_USAGE ? "denied" : "ec2_error";
			snprintf(k->answer, sizeof(k->answer), "%s", fatal.msg);
		} else if (result == FO_EC2_REFUSED) {
			k->action = A_FAILED;
			k->why = "refused";
		} else if (result == FO_EC2_STOPPED) {
			k->action = A_STOPPED;
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("instance", k->id),
				FO_STR("region", k->region), FO_STR("owner", k->owner),
				FO_STR("ec2", k->answer)), "stopped %s (%s, %s): %s", k->id, k->type,
				k->region, k->answer);
		}
		/* recorded at once: no stop is done without its record */
		rc = record(ctx, k, err);
	}
	for (int r = 0; rc == 0 && r < n; r++) {
		if (c[r].action == A_DONE_BEFORE)
			before++;
		else if (!c[r].recorded)
			rc = record(ctx, &c[r], err);
	}
	printf("idle_stop %s as of %s: %d current idle finding%s\n", o->execute ? "run" :
	       "plan (nothing is stopped without --execute)", as_of, n, n == 1 ? "" : "s");
	if (n > before)
		printf("  %-20s %-14s %-13s %12s  %-16s %-11s %s\n", "INSTANCE", "REGION", "TYPE",
		       "SAVES/MONTH", "OWNER", "DECISION", "WHY");
	for (int r = 0; r < n; r++) {
		if (c[r].action == A_DONE_BEFORE)
			continue;
		plan_line(&c[r], o->execute);
		stopped += c[r].action == A_STOPPED;
		would += c[r].action == A_WOULD_STOP;
		skipped += c[r].action == A_SKIPPED;
		failed += c[r].action == A_FAILED;
		if (c[r].action == A_STOPPED || c[r].action == A_WOULD_STOP)
			saving += atof(c[r].saving);
	}
	fflush(stdout);
	if (rc == 0 && fatal.code != FO_EXIT_OK) {
		*err = fatal;
		rc = -1;
	}
	ctx->rows_written += stopped;
	if (rc == 0 && o->execute && !o->no_notify && !ctx->dry_run)
		rc = tell(ctx, o, &sent, &tell_failed, err);
	fo_notify_money(saving, "USD", saved, sizeof(saved));
	fo_buf_printf(&ctx->summary, "%d idle finding%s: %d stopped, %d would stop, %d skipped,"
		      " %d failed, %d acted on before; %s a month %s; %d message%s sent", n,
		      n == 1 ? "" : "s", stopped, would, skipped, failed, before, saved,
		      o->execute ? "saved" : "to save", sent, sent == 1 ? "" : "s");
	if (rc == 0 && failed)
		rc = fo_err_set(err, FO_EXIT_FAILURE, "%d instance%s could not be stopped: EC2"
				" refused (finops.idle_stop_decisions has its answers)", failed,
				failed == 1 ? "" : "s");
	if (rc == 0 && stopped == 0 && would == 0)
		ctx->nothing_new = 1;
	free(c);
	PQclear(res);
	return rc;
}
