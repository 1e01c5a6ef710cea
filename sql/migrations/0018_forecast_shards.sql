-- 0018_forecast_shards: forecast_train --shard I/N (issue 20). A run records
-- the shard of series it trained (the hash of the series key, as the other
-- jobs' shards); an unsharded run is shard 0 of 1. The current forecast was
-- already each series' newest model (forecast_current), so N shards trained
-- at once are the current set together with no other change.
ALTER TABLE finops.forecast_runs
	ADD COLUMN shard_index integer NOT NULL DEFAULT 0,
	ADD COLUMN shard_count integer NOT NULL DEFAULT 1,
	ADD CONSTRAINT forecast_runs_shard
		CHECK (shard_count BETWEEN 1 AND 1024 AND shard_index >= 0
		       AND shard_index < shard_count);
