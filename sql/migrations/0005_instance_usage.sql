-- 0005_instance_usage: hourly utilization of EC2 instances (usage_ingest),
-- from CloudWatch GetMetricData or CloudWatch Metric Streams files.

-- One row per instance and hour. Partitioned by month (usage_ingest creates
-- the partitions it needs): 90 days of 100k instances is about 216M rows,
-- about 72M a month; old months are dropped whole. Utilization is a
-- measurement, so double precision; a metric with no datapoint in the hour
-- is NULL, never zero (memory needs the CloudWatch agent).
CREATE TABLE finops.instance_usage_hourly (
	instance_id      text NOT NULL,
	hour             timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
	account_id       text,
	region           text,
	cpu_avg          double precision,
	cpu_max          double precision,
	mem_avg          double precision,
	mem_max          double precision,
	net_in_bytes     double precision,
	net_out_bytes    double precision,
	sample_count     integer NOT NULL DEFAULT 0,
	source           text NOT NULL CHECK (source IN ('cloudwatch', 'metric_stream')),
	run_id           bigint,
	loaded_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (instance_id, hour)
) PARTITION BY RANGE (hour);
CREATE INDEX instance_usage_hourly_hour ON finops.instance_usage_hourly USING brin (hour);
COMMENT ON TABLE finops.instance_usage_hourly IS
	'Hourly CPU, memory and network of EC2 instances; upserted by (instance_id, hour), so a'
	' window loaded again replaces its hours and overlapping windows never double count.';
COMMENT ON COLUMN finops.instance_usage_hourly.sample_count IS
	'Datapoints behind cpu_avg (CloudWatch SampleCount, or metric-stream minutes).';

ALTER TABLE finops.instance_usage_hourly OWNER TO finops_writer;
GRANT SELECT ON finops.instance_usage_hourly TO finops_reader;
