-- 0014_budgets: budgets as code (budget_check --budgets FILE), their
-- evaluations and breaches. The file is the truth: each run syncs it here;
-- a budget gone from it is archived with its history. See docs/budgets.md.

CREATE TABLE finops.budgets (
	budget_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           text NOT NULL UNIQUE,
	owner          text NOT NULL,
	currency       text NOT NULL,
	period         text NOT NULL CHECK (period IN ('monthly', 'quarterly', 'yearly')),
	metric         text NOT NULL CHECK (metric IN ('effective_cost', 'billed_cost')),
	definition     jsonb NOT NULL,
	status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	archived_at    timestamptz,
	synced_run_id  bigint,
	CHECK ((status = 'archived') = (archived_at IS NOT NULL))
);
COMMENT ON COLUMN finops.budgets.definition IS
	'The budget as the file says it (scope, amount, thresholds); a change is synced by the next run';

-- What each run found, per budget and period.
CREATE TABLE finops.budget_evaluations (
	budget_id      bigint NOT NULL REFERENCES finops.budgets,
	period_start   date NOT NULL,
	period_end     date NOT NULL,
	run_id         bigint NOT NULL,
	evaluated_at   timestamptz NOT NULL DEFAULT now(),
	closed_through date NOT NULL,
	amount         numeric NOT NULL,
	actual         numeric NOT NULL,
	forecast       numeric NOT NULL,
	forecast_lo80  numeric NOT NULL,
	forecast_hi80  numeric NOT NULL,
	PRIMARY KEY (budget_id, period_start, run_id)
);

-- A threshold crossed. An actual threshold crosses once a period; a
-- forecasted one is cleared when the forecast falls back below it and may
-- cross again (a new row).
CREATE TABLE finops.budget_breaches (
	breach_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	budget_id      bigint NOT NULL REFERENCES finops.budgets,
	threshold      text NOT NULL,
	kind           text NOT NULL CHECK (kind IN ('actual', 'forecasted')),
	period_start   date NOT NULL,
	threshold_amount numeric NOT NULL,
	value          numeric NOT NULL,
	crossed_at     timestamptz NOT NULL DEFAULT now(),
	cleared_at     timestamptz,
	run_id         bigint,
	channels       text[] NOT NULL,
	notified       text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX budget_breaches_actual_once
	ON finops.budget_breaches (budget_id, threshold, period_start) WHERE kind = 'actual';
CREATE UNIQUE INDEX budget_breaches_one_standing
	ON finops.budget_breaches (budget_id, threshold, period_start)
	WHERE kind = 'forecasted' AND cleared_at IS NULL;
COMMENT ON COLUMN finops.budget_breaches.notified IS
	'The channels told so far; the others are tried again by the next run';

-- Each active budget's latest evaluation of its latest period.
CREATE VIEW finops.budget_status AS
SELECT b.budget_id, b.name, b.owner, b.currency, b.period, b.metric, e.period_start,
       e.period_end, e.closed_through, e.amount, e.actual, e.forecast, e.forecast_lo80,
       e.forecast_hi80,
       CASE WHEN e.amount > 0 THEN round(100 * e.actual / e.amount, 1) END AS percent_used,
       CASE WHEN e.amount > 0 THEN round(100 * e.forecast / e.amount, 1) END AS percent_forecast,
       e.period_end - e.closed_through AS days_left,
       CASE WHEN e.actual >= e.amount THEN 'over'
            WHEN e.forecast >= e.amount THEN 'forecast_over'
            ELSE 'ok' END AS state,
       e.evaluated_at
  FROM finops.budgets b
  JOIN LATERAL (SELECT * FROM finops.budget_evaluations e WHERE e.budget_id = b.budget_id
                 ORDER BY e.period_start DESC, e.run_id DESC LIMIT 1) e ON true
 WHERE b.status = 'active';

GRANT SELECT ON finops.budgets, finops.budget_evaluations, finops.budget_breaches,
	finops.budget_status TO finops_reader, finops_writer;
GRANT INSERT, UPDATE, DELETE ON finops.budgets, finops.budget_evaluations,
	finops.budget_breaches TO finops_writer;
