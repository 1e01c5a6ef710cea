-- 0012_notifications: every message the pipeline sends to people (Slack,
-- Microsoft Teams, generic webhooks), one row a channel and dedup key, so
-- that a message is sent at most once and a failed one is tried again by
-- the next run. The webhook URL is never stored: the channel's name is.
CREATE TABLE finops.notifications (
	notification_id bigserial PRIMARY KEY,
	channel text NOT NULL,
	kind text NOT NULL CHECK (kind IN ('slack', 'teams', 'webhook')),
	dedup_key text NOT NULL,
	event text NOT NULL,
	title text NOT NULL,
	status text NOT NULL CHECK (status IN ('sent', 'failed')),
	http_status integer,
	tries integer NOT NULL DEFAULT 1 CHECK (tries > 0),
	error text,
	run_id bigint,
	first_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_attempt_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz,
	UNIQUE (channel, dedup_key),
	CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notifications_failed ON finops.notifications (last_attempt_at)
	WHERE status = 'failed';

COMMENT ON TABLE finops.notifications IS
	'Messages to people, one row a (channel, dedup_key): sent at most once, failed ones retried by the next run';

GRANT SELECT ON finops.notifications TO finops_reader, finops_writer;
GRANT INSERT, UPDATE ON finops.notifications TO finops_writer;
GRANT USAGE, SELECT ON SEQUENCE finops.notifications_notification_id_seq TO finops_writer;
