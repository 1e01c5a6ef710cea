-- 0016_idle_stop: what idle_stop decided about each current idle finding,
-- run by run (docs/idle_stop.md): stopped, would stop (a plan), skipped and
-- why, or failed with EC2's answer. A finding is stopped at most once.
CREATE TABLE finops.idle_stop_decisions (
	decision_id      bigserial PRIMARY KEY,
	run_id           bigint NOT NULL,             -- finops.job_runs.run_id of idle_stop
	rightsizing_run_id bigint NOT NULL,           -- the finding's rightsizing run
	instance_id      text NOT NULL,
	account_id       text,
	region           text,
	instance_type    text,
	finding          text NOT NULL,               -- the finding's reason
	monthly_saving_list      numeric,
	monthly_saving_effective numeric,
	owner            text,                        -- from the policy's owner tags
	channel          text,                        -- told there (NULL: nobody to tell)
	action           text NOT NULL CHECK (action IN ('stopped', 'would_stop', 'skipped',
	                 'failed')),
	why              text NOT NULL,               -- 'eligible', or a short code: 'not_opted_in'
	reason           text NOT NULL,               -- in words
	ec2_answer       text,                        -- "running -> stopping", DryRunOperation, an error
	notified         boolean NOT NULL DEFAULT false,
	decided_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idle_stop_decisions_stopped_once
	ON finops.idle_stop_decisions (rightsizing_run_id, instance_id) WHERE action = 'stopped';
CREATE INDEX idle_stop_decisions_instance
	ON finops.idle_stop_decisions (instance_id, decided_at);
CREATE INDEX idle_stop_decisions_unnotified
	ON finops.idle_stop_decisions (decision_id) WHERE action = 'stopped' AND NOT notified;
COMMENT ON TABLE finops.idle_stop_decisions IS
	'Every decision idle_stop made about a current idle finding: stopped, would_stop (a plan'
	' run), skipped (why) or failed (EC2''s answer). The partial unique index keeps a finding'
	' from being stopped twice.';

-- What idle_stop stopped and what it saves, per month of the stop.
CREATE VIEW finops.idle_stop_savings AS
SELECT date_trunc('month', decided_at) AS month, count(*) AS instances,
       sum(monthly_saving_list) AS monthly_saving_list,
       sum(monthly_saving_effective) AS monthly_saving_effective
  FROM finops.idle_stop_decisions
 WHERE action = 'stopped'
 GROUP BY 1;

GRANT SELECT ON finops.idle_stop_decisions, finops.idle_stop_savings
	TO finops_reader, finops_writer;
GRANT INSERT, UPDATE ON finops.idle_stop_decisions TO finops_writer;
GRANT USAGE ON SEQUENCE finops.idle_stop_decisions_decision_id_seq TO finops_writer;
