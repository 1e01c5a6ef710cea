-- 0008_rightsizing_applied_after_window: a recommendation counts as applied
-- when the instance is billed as the recommended type after the analysis
-- window it was computed for (rightsizing_runs.window_end), not after the
-- wall-clock time of the run: a run for a past --end counts the billing
-- since that end, and no result depends on when the run happened.
CREATE OR REPLACE VIEW finops.rightsizing_applied AS
SELECT DISTINCT ON (r.instance_id, r.run_id) r.run_id, r.instance_id, r.current_type,
       r.recommended_type, r.monthly_saving_list, r.monthly_saving_effective,
       min(b.charge_period_start) OVER (PARTITION BY r.instance_id, r.run_id) AS applied_from
  FROM finops.rightsizing_recommendations r
  JOIN finops.rightsizing_runs run USING (run_id)
  JOIN finops.billing_line_items b
    ON b.resource_id = r.instance_id AND b.instance_type = r.recommended_type
   AND b.charge_period_start >= run.window_end
 WHERE r.finding IN ('over_provisioned', 'under_provisioned');
