-- 0002_billing: billing line items in FOCUS terms, their sources, and the
-- audit of every load.

-- Where line items come from: one AWS payer account + report (legacy CUR or
-- CUR 2.0 export), or one FOCUS billing account + export. A load replaces one
-- billing period of one source.
CREATE TABLE finops.billing_sources (
	source_id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind               text NOT NULL CHECK (kind IN ('aws_cur', 'focus')),
	billing_account_id text NOT NULL,
	report_name        text NOT NULL,
	provider_name      text,
	created_at         timestamptz NOT NULL DEFAULT now(),
	UNIQUE (kind, billing_account_id, report_name)
);
COMMENT ON TABLE finops.billing_sources IS
	'Billing data sources: an AWS payer account and report, or a FOCUS billing account and export.';

-- Line items. Column names and meanings follow FOCUS 1.0-1.2; AWS detail
-- that rightsizing and forecasting need follows. Money is numeric, exact.
CREATE TABLE finops.billing_line_items (
	billing_period            date NOT NULL,
	source_id                 integer NOT NULL,
	load_id                   bigint NOT NULL,
	line_item_id              text,
	billing_account_id        text NOT NULL,
	billing_account_name      text,
	sub_account_id            text,
	sub_account_name          text,
	billing_period_end        date,
	charge_period_start       timestamptz NOT NULL,
	charge_period_end         timestamptz,
	charge_category           text NOT NULL
	                          CHECK (charge_category IN ('Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment')),
	charge_class              text,
	charge_description        text,
	charge_frequency          text,
	provider_name             text,
	publisher_name            text,
	invoice_issuer_name       text,
	invoice_id                text,
	service_name              text,
	service_category          text,
	region_id                 text,
	region_name               text,
	availability_zone         text,
	resource_id               text,
	resource_name             text,
	resource_type             text,
	sku_id                    text,
	sku_price_id              text,
	pricing_category          text,
	pricing_quantity          numeric,
	pricing_unit              text,
	consumed_quantity         numeric,
	consumed_unit             text,
	billing_currency          text NOT NULL,
	billed_cost               numeric NOT NULL,
	list_cost                 numeric,
	list_unit_price           numeric,
	contracted_cost           numeric,
	contracted_unit_price     numeric,
	-- AWS detail
	line_item_type            text,
	usage_type                text,
	operation                 text,
	product_code              text,
	product_family            text,
	instance_type             text,
	operating_system          text,
	tenancy                   text,
	pricing_term              text,
	reservation_arn           text,
	savings_plan_arn          text,
	split_parent_resource_id  text,
	split_cost                numeric,
	split_unused_cost         numeric,
	-- inputs of the effective (amortized) cost
	reported_effective_cost   numeric,
	sp_effective_cost         numeric,
	sp_total_commitment_to_date numeric,
	sp_used_commitment        numeric,
	ri_effective_cost         numeric,
	ri_unused_amortized_upfront_fee numeric,
	ri_unused_recurring_fee   numeric,
	-- The amortized cost: FOCUS EffectiveCost as reported, else the rule of
	-- AWS's Cloud Intelligence Dashboards and the FOCUS converters.
	effective_cost            numeric NOT NULL GENERATED ALWAYS AS (
		CASE
		WHEN reported_effective_cost IS NOT NULL THEN reported_effective_cost
		WHEN line_item_type = 'SavingsPlanCoveredUsage' THEN coalesce(sp_effective_cost, 0)
		WHEN line_item_type = 'SavingsPlanRecurringFee'
			THEN coalesce(sp_total_commitment_to_date, 0) - coalesce(sp_used_commitment, 0)
		WHEN line_item_type IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee') THEN 0
		WHEN line_item_type = 'DiscountedUsage' THEN coalesce(ri_effective_cost, 0)
		WHEN line_item_type = 'RIFee'
			THEN coalesce(ri_unused_amortized_upfront_fee, 0) + coalesce(ri_unused_recurring_fee, 0)
		WHEN line_item_type = 'Fee' AND coalesce(reservation_arn, '') <> '' THEN 0
		ELSE billed_cost
		END) STORED,
	tags                      jsonb NOT NULL DEFAULT '{}',
	cost_categories           jsonb NOT NULL DEFAULT '{}'
) PARTITION BY LIST (billing_period);
COMMENT ON TABLE finops.billing_line_items IS
	'Billing line items (FOCUS columns plus AWS detail), partitioned by billing period and then'
	' by source; billing_ingest replaces one (period, source) partition atomically.';
COMMENT ON COLUMN finops.billing_line_items.effective_cost IS
	'Amortized cost: FOCUS EffectiveCost, or for AWS CUR the CID rule over the savingsPlan/*'
	' and reservation/* inputs.';
COMMENT ON COLUMN finops.billing_line_items.split_cost IS
	'Split cost allocation (ECS/EKS) share of the parent resource; never part of billed_cost'
	' or effective_cost, so container rows do not double count.';

CREATE INDEX billing_line_items_charge_period_brin
	ON finops.billing_line_items USING brin (charge_period_start);

-- One row per (load, source, billing period): what was loaded, from where,
-- and its totals. A load is one manifest or one set of files, applied in one
-- transaction; it may hold several sources or periods (FOCUS exports do).
CREATE SEQUENCE finops.billing_load_id_seq;
CREATE TABLE finops.billing_loads (
	load_id            bigint NOT NULL,
	source_id          integer NOT NULL REFERENCES finops.billing_sources,
	billing_period     date NOT NULL,
	run_id             bigint REFERENCES finops.job_runs,
	format             text NOT NULL,
	manifest           text,
	assembly_id        text NOT NULL,
	assembly_time      timestamptz,
	files              text[] NOT NULL,
	rows_loaded        bigint NOT NULL,
	totals             jsonb NOT NULL,
	status             text NOT NULL DEFAULT 'current' CHECK (status IN ('current', 'replaced')),
	replaced_by        bigint,
	loaded_at          timestamptz NOT NULL DEFAULT now(),
	duration_ms        bigint,
	PRIMARY KEY (load_id, source_id, billing_period)
);
COMMENT ON TABLE finops.billing_loads IS
	'Audit of billing loads: one row per (load, source, billing period); the current row of a'
	' (source, period) is what billing_line_items holds.';
COMMENT ON COLUMN finops.billing_loads.assembly_id IS
	'CUR assemblyId, CUR 2.0 executionId, or for plain files a CRC-32 and size of their bytes.';
COMMENT ON COLUMN finops.billing_loads.totals IS
	'Per currency: rows, billed_cost, effective_cost, list_cost as loaded.';
CREATE UNIQUE INDEX billing_loads_one_current
	ON finops.billing_loads (source_id, billing_period) WHERE status = 'current';

-- Daily cost per account, service and currency: what dashboards and
-- forecasts start from. Costs are never added across currencies.
CREATE VIEW finops.billing_daily_cost AS
SELECT (charge_period_start AT TIME ZONE 'UTC')::date AS usage_date,
       billing_account_id, sub_account_id, service_name, billing_currency,
       sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost,
       sum(list_cost) AS list_cost
  FROM finops.billing_line_items
 GROUP BY 1, 2, 3, 4, 5;

GRANT SELECT ON finops.billing_sources, finops.billing_line_items, finops.billing_loads,
	finops.billing_daily_cost TO finops_reader;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON finops.billing_sources,
	finops.billing_line_items, finops.billing_loads TO finops_writer;
GRANT USAGE, SELECT ON SEQUENCE finops.billing_load_id_seq TO finops_writer;
GRANT SELECT ON finops.billing_daily_cost TO finops_writer;
-- The writer swaps partitions: ATTACH and DETACH need ownership of the
-- partitioned table.
ALTER TABLE finops.billing_line_items OWNER TO finops_writer;
