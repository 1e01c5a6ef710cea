/*
 * idle_stop: the playbook "Idle Resource -> stop instance, notify owner":
 * rightsizing_calc's idle findings stopped on EC2 when their instances opt
 * in, their owners told (docs/idle_stop.md).
 */
#include "finops/idle.h"
#include "finops/job.h"

enum { OPT_POLICY = 1000, OPT_EXECUTE, OPT_MAX, OPT_AS_OF, OPT_REGION, OPT_NO_NOTIFY };

static const struct fo_option options[] = {
	{"policy", 1, OPT_POLICY, "FILE",
	 "the policy file (JSON; docs/idle_stop.md): opt-in tags, owners, channels; required"},
	{"execute", 0, OPT_EXECUTE, NULL,
	 "stop the eligible instances (without it: print and record the plan only)"},
	{"max-instances", 1, OPT_MAX, "N", "stop at most N instances a run (default 10)"},
	{"as-of", 1, OPT_AS_OF, "TIME",
	 "judge the findings' and the usage's freshness at TIME (ISO 8601; default now)"},
	{"region", 1, OPT_REGION, "REGION", "only instances of REGION (repeatable; default all)"},
	{"no-notify", 0, OPT_NO_NOTIFY, NULL,
	 "tell no owner now (the stops are recorded; a later run without it tells them)"},
	{NULL, 0, 0, NULL, NULL}
};

static int
on_option(struct fo_run *ctx, int id, const char *arg, fo_err *err)
{
	struct fo_idle_opts *o = ctx->data;

	switch (id) {
	case OPT_POLICY:
		o->policy_path = arg;
		return 0;
	case OPT_EXECUTE:
		o->execute = 1;
		return 0;
	case OPT_MAX:
		return fo_opt_int("max-instances", arg, 1, 1000, NULL, &o->max_instances, err);
	case OPT_AS_OF:
		o->as_of = arg;
		return 0;
	case OPT_REGION:
		return fo_idle_add_region(o, arg, err);
	case OPT_NO_NOTIFY:
		o->no_notify = 1;
		return 0;
	}
	return fo_err_set(err, FO_EXIT_USAGE, "unknown option");
}

static int
check(struct fo_run *ctx, fo_err *err)
{
	return fo_idle_check(ctx->data, err);
}

static int
run(struct fo_run *ctx, fo_err *err)
{
	return fo_idle_run(ctx, ctx->data, err);
}

static const struct fo_job job = {
	.name = "idle_stop",
	.purpose = "stop idle EC2 instances that opt in (rightsizing_calc's findings); tell owners",
	.usage = "--policy FILE [--execute] [OPTIONS]",
	.description =
		"Takes rightsizing_calc's current idle findings. An instance is stopped (never\n"
		"terminated) only when a tag of the policy opts it in, it is not tagged finops:keep,\n"
		"it is no member of an Auto Scaling group, has an EBS root and is on demand, and\n"
		"just before, it is still idle on the freshest usage, still running and still the\n"
		"type it was billed as (EC2 DescribeInstances); StopInstances is tried with DryRun\n"
		"first. Without --execute the plan is printed and recorded, and nothing is stopped.\n"
		"Every decision goes to finops.idle_stop_decisions; a finding is acted on once; the\n"
		"owner is told. Exit 99: nothing to stop; 2: a permission is missing (named).",
	.options = options,
	.option = on_option,
	.check = check,
	.run = run,
};

int
main(int argc, char **argv)
{
	struct fo_idle_opts o;
	int rc;

	fo_idle_defaults(&o);
	rc = fo_job_main(&job, &o, argc, argv);
	fo_idle_opts_free(&o);
	return rc;
}
