-- 0009_rightsizing_running_hours: a saving is projected over the hours an
-- instance is expected to run in a month, from how much of the lookback
-- window it was billed (docs/rightsizing.md), not over 730 hours for every
-- instance. Older rows keep NULL: they were computed over 730 hours.
ALTER TABLE finops.rightsizing_recommendations
	ADD COLUMN billed_hours double precision,     -- instance hours billed in the window
	ADD COLUMN monthly_hours numeric;             -- 730 x the share of the window it ran
COMMENT ON COLUMN finops.rightsizing_recommendations.monthly_hours IS
	'Hours a month the instance is expected to run: 730 times its billed hours over the hours'
	' of the window its billing source covers (at most 730); savings are priced over them.';

-- rightsizing_current lists r.*: recreated so that it shows the new columns.
CREATE OR REPLACE VIEW finops.rightsizing_current AS
SELECT r.*
  FROM finops.rightsizing_recommendations r
 WHERE r.run_id = (SELECT max(run_id) FROM finops.rightsizing_runs);
