-- 0013_anomalies: what anomaly_detect watches and finds. A series is one
-- monitored value (an account's total, a service, a sub account, a region,
-- a usage type, a tag or cost category value) of one billing account in one
-- currency and metric; an anomaly is one record of consecutive anomalous
-- days of a series, growing while they last; its days, its root causes and
-- the channels told about it are kept beside it. See docs/anomalies.md.

CREATE TABLE finops.anomaly_series (
	series_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	monitor            text NOT NULL,
	billing_account_id text NOT NULL,
	dimension          text NOT NULL,
	value              text NOT NULL,
	currency           text NOT NULL,
	metric             text NOT NULL CHECK (metric IN ('effective_cost', 'billed_cost')),
	direction          text NOT NULL CHECK (direction IN ('up', 'down')),
	evaluated_through  date NOT NULL,
	first_evaluated    date NOT NULL,
	run_id             bigint,
	updated_at         timestamptz NOT NULL DEFAULT now(),
	UNIQUE (monitor, billing_account_id, dimension, value, currency, metric, direction)
);
COMMENT ON TABLE finops.anomaly_series IS
	'Series anomaly_detect has evaluated, and the last closed day it evaluated in each';

CREATE TABLE finops.anomalies (
	anomaly_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	series_id          bigint NOT NULL REFERENCES finops.anomaly_series,
	first_day          date NOT NULL,
	last_day           date NOT NULL CHECK (last_day >= first_day),
	status             text NOT NULL CHECK (status IN ('open', 'closed')),
	close_reason       text CHECK (close_reason IN ('returned', 'level_shift', 'restated')),
	close_note         text,
	days               integer NOT NULL CHECK (days > 0),
	actual_cost        numeric NOT NULL,
	expected_cost      numeric NOT NULL,
	total_impact       numeric NOT NULL,
	impact_percent     numeric,
	max_daily_impact   numeric NOT NULL,
	score              double precision NOT NULL,
	feedback           text CHECK (feedback IN ('yes', 'no', 'planned_activity')),
	feedback_at        timestamptz,
	created_run_id     bigint,
	updated_run_id     bigint,
	created_at         timestamptz NOT NULL DEFAULT now(),
	updated_at         timestamptz NOT NULL DEFAULT now(),
	CHECK ((status = 'open') = (close_reason IS NULL))
);
-- One live record a series and first day; one a restatement removed is kept beside it.
CREATE UNIQUE INDEX anomalies_one_live ON finops.anomalies (series_id, first_day)
	WHERE close_reason IS DISTINCT FROM 'restated';
CREATE INDEX anomalies_by_day ON finops.anomalies (last_day);
COMMENT ON COLUMN finops.anomalies.impact_percent IS
	'100 x total impact / expected cost over the anomaly''s days; NULL when nothing was expected';
COMMENT ON COLUMN finops.anomalies.close_reason IS
	'returned: cost came back within the bound; level_shift: it stayed at the new level (the new'
	' normal); restated: a reloaded billing period no longer shows it (close_note says which)';

CREATE TABLE finops.anomaly_days (
	anomaly_id   bigint NOT NULL REFERENCES finops.anomalies ON DELETE CASCADE,
	day          date NOT NULL,
	actual       numeric NOT NULL,
	expected     numeric NOT NULL,
	upper_bound  numeric NOT NULL,
	lower_bound  numeric NOT NULL,
	impact       numeric NOT NULL,
	impact_percent numeric,
	score        double precision NOT NULL,
	model        text NOT NULL,
	PRIMARY KEY (anomaly_id, day)
);

CREATE TABLE finops.anomaly_root_causes (
	anomaly_id   bigint NOT NULL REFERENCES finops.anomalies ON DELETE CASCADE,
	rank         integer NOT NULL CHECK (rank BETWEEN 1 AND 10),
	dimension    text NOT NULL,
	value        text NOT NULL,
	dimension2   text,
	value2       text,
	contribution numeric NOT NULL,
	PRIMARY KEY (anomaly_id, rank)
);
COMMENT ON TABLE finops.anomaly_root_causes IS
	'Up to 10 causes an anomaly, ranked by the money of its impact they explain (never more'
	' than the impact in total): a value of service, sub account, region or usage type, or a pair';

-- The billing loads the last evaluation saw, and what their recent days
-- held: when a (source, period) has a new load (CUR rewrites the month up to
-- three times a day), the days it held before are compared with what it
-- holds now, and only a day that changed (its effective or billed cost, or
-- a fingerprint of how they split over services and usage types) makes the
-- period's days from there be judged again: a restatement. A delivery that
-- only adds new days re-judges nothing.
CREATE TABLE finops.anomaly_loads_seen (
	source_id      integer NOT NULL,
	billing_period date NOT NULL,
	load_id        bigint NOT NULL,
	PRIMARY KEY (source_id, billing_period)
);
CREATE TABLE finops.anomaly_day_totals (
	source_id          integer NOT NULL,
	billing_period     date NOT NULL,
	billing_account_id text NOT NULL,
	currency           text NOT NULL,
	day                date NOT NULL,
	effective_cost     numeric NOT NULL,
	billed_cost        numeric NOT NULL,
	fingerprint        numeric NOT NULL,
	PRIMARY KEY (source_id, billing_period, billing_account_id, currency, day)
);
COMMENT ON COLUMN finops.anomaly_day_totals.fingerprint IS
	'The day''s effective plus billed cost, each line weighted by a hash of its service and'
	' usage type: a cost that moved between them changes it';

-- Which channel was told about which anomaly, by which message (a digest tells of several).
CREATE TABLE finops.anomaly_notices (
	anomaly_id bigint NOT NULL REFERENCES finops.anomalies ON DELETE CASCADE,
	channel    text NOT NULL,
	dedup_key  text NOT NULL,
	PRIMARY KEY (anomaly_id, channel)
);

CREATE VIEW finops.anomalies_current AS
SELECT a.anomaly_id, s.monitor, s.billing_account_id, s.dimension, s.value, s.currency,
       s.metric, s.direction, a.first_day, a.last_day, a.days, a.status, a.close_reason,
       a.close_note, a.actual_cost, a.expected_cost, a.total_impact, a.impact_percent,
       a.max_daily_impact, a.score, a.feedback, a.created_at, a.updated_at
  FROM finops.anomalies a JOIN finops.anomaly_series s USING (series_id)
 WHERE a.close_reason IS DISTINCT FROM 'restated';

CREATE VIEW finops.anomaly_notifications AS
SELECT n.anomaly_id, n.channel, n.dedup_key, x.kind, x.status, x.http_status, x.tries,
       x.error, x.first_attempt_at, x.last_attempt_at, x.sent_at
  FROM finops.anomaly_notices n
  JOIN finops.notifications x USING (channel, dedup_key);

GRANT SELECT ON finops.anomaly_series, finops.anomalies, finops.anomaly_days,
	finops.anomaly_root_causes, finops.anomaly_loads_seen, finops.anomaly_day_totals,
	finops.anomaly_notices, finops.anomalies_current, finops.anomaly_notifications
	TO finops_reader, finops_writer;
GRANT INSERT, UPDATE, DELETE ON finops.anomaly_series, finops.anomalies, finops.anomaly_days,
	finops.anomaly_root_causes, finops.anomaly_loads_seen, finops.anomaly_day_totals,
	finops.anomaly_notices TO finops_writer;
