-- 0003_effective_cost_from_loader: billing_line_items.effective_cost becomes
-- a plain column that billing_ingest fills, by the same rule the generated
-- column used (lib/cur.c, effective_cost_of), computed exactly on decimal
-- text. Evaluating the expression on every row cost the server about a sixth
-- of its COPY time (bench/billing_bench.py); the loader reconciles the
-- column's total per currency with what it computed, as it does billed_cost.
--
-- PostgreSQL 15 cannot DROP EXPRESSION down a two-level partition tree (the
-- middle level refuses to recurse), so every partition is detached, changed
-- on its own and attached again, inside this migration's transaction. The
-- leaves carry a CHECK constraint matching their bounds, so attaching them
-- again does not scan their rows.
DO $$
DECLARE
	p record;
	leaf record;
	parts text[] := '{}';
	parts_bounds text[] := '{}';
	leaves text[] := '{}';
	leaves_parent text[] := '{}';
	leaves_bounds text[] := '{}';
BEGIN
	FOR p IN SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
		   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		  WHERE i.inhparent = 'finops.billing_line_items'::regclass
	LOOP
		FOR leaf IN SELECT c.oid::regclass::text AS name,
				   pg_get_expr(c.relpartbound, c.oid) AS bound
			      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			     WHERE i.inhparent = p.name::regclass
		LOOP
			EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', p.name, leaf.name);
			EXECUTE format('ALTER TABLE %s ALTER COLUMN effective_cost DROP EXPRESSION',
				       leaf.name);
			leaves := leaves || leaf.name;
			leaves_parent := leaves_parent || p.name;
			leaves_bounds := leaves_bounds || leaf.bound;
		END LOOP;
		EXECUTE format('ALTER TABLE finops.billing_line_items DETACH PARTITION %s', p.name);
		EXECUTE format('ALTER TABLE %s ALTER COLUMN effective_cost DROP EXPRESSION', p.name);
		parts := parts || p.name;
		parts_bounds := parts_bounds || p.bound;
	END LOOP;

	ALTER TABLE finops.billing_line_items ALTER COLUMN effective_cost DROP EXPRESSION;

	FOR i IN 1 .. coalesce(array_length(parts, 1), 0) LOOP
		EXECUTE format('ALTER TABLE finops.billing_line_items ATTACH PARTITION %s %s',
			       parts[i], parts_bounds[i]);
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(leaves, 1), 0) LOOP
		EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s %s', leaves_parent[i], leaves[i],
			       leaves_bounds[i]);
	END LOOP;
END
$$;

COMMENT ON COLUMN finops.billing_line_items.effective_cost IS
	'Amortized cost, filled by billing_ingest: FOCUS EffectiveCost, or for AWS CUR the CID rule'
	' over the savingsPlan/* and reservation/* inputs (docs/schema.md).';
