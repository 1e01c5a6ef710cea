-- 0017_rightsizing_shards: rightsizing_calc --shard I/N (issue 20). A run
-- records the shard it decided; N runs at once split the fleet by the hash
-- of the instance id (the one usage_ingest --shard uses), none in two
-- shards and none left out. An unsharded run is shard 0 of 1.
ALTER TABLE finops.rightsizing_runs
	ADD COLUMN shard_index integer NOT NULL DEFAULT 0,
	ADD COLUMN shard_count integer NOT NULL DEFAULT 1,
	ADD CONSTRAINT rightsizing_runs_shard
		CHECK (shard_count BETWEEN 1 AND 1024 AND shard_index >= 0
		       AND shard_index < shard_count);

-- The runs whose recommendations are current. The newest run says how the
-- fleet is split (N shards, 1 when unsharded); each shard's newest run of
-- that split is current, among the runs after the newest run of another
-- split. One unsharded run is the whole current set, as before; while the
-- N shards of a day run, each shard shows its newest finished result, and a
-- shard that failed keeps its previous one, as an unsharded run that failed
-- keeps the previous day's. The shards of one split never share an
-- instance, so no instance is current twice.
CREATE VIEW finops.rightsizing_current_runs AS
WITH newest AS (
	SELECT run_id, shard_count FROM finops.rightsizing_runs ORDER BY run_id DESC LIMIT 1
), since AS (
	SELECT coalesce(max(r.run_id), 0) AS run_id
	  FROM finops.rightsizing_runs r, newest n
	 WHERE r.shard_count <> n.shard_count
)
SELECT DISTINCT ON (r.shard_index) r.run_id, r.shard_index, r.shard_count, r.window_end
  FROM finops.rightsizing_runs r, newest n, since s
 WHERE r.shard_count = n.shard_count AND r.run_id > s.run_id
 ORDER BY r.shard_index, r.run_id DESC;

CREATE OR REPLACE VIEW finops.rightsizing_current AS
SELECT r.*
  FROM finops.rightsizing_recommendations r
 WHERE r.run_id IN (SELECT run_id FROM finops.rightsizing_current_runs);

-- One row per analysis: a window (start and end) and a split, with the
-- newest run of each of its shards summed; complete when shards equals
-- shard_count. The Rightsizing Opportunities dashboard charts these.
CREATE VIEW finops.rightsizing_windows AS
SELECT window_start, window_end, shard_count, count(*)::integer AS shards,
       max(created_at) AS created_at, sum(instances)::integer AS instances,
       sum(monthly_saving_list) AS monthly_saving_list,
       sum(monthly_saving_effective) AS monthly_saving_effective
  FROM (SELECT DISTINCT ON (window_start, window_end, shard_count, shard_index) *
	  FROM finops.rightsizing_runs
	 ORDER BY window_start, window_end, shard_count, shard_index, run_id DESC) r
 GROUP BY window_start, window_end, shard_count;

GRANT SELECT ON finops.rightsizing_current_runs, finops.rightsizing_windows
	TO finops_reader, finops_writer;
