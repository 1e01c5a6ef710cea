-- 0004_instance_catalog: EC2 instance types and their prices, from the AWS
-- Price List bulk offer files (instance_catalog_updater).

-- One row per instance type: its hardware, the same in every region.
CREATE TABLE finops.instance_types (
	instance_type        text PRIMARY KEY,             -- m5.large
	family               text NOT NULL,                -- m5
	generation           integer,                      -- 5 (the digits of the family)
	instance_family      text,                         -- General purpose
	vcpu                 integer NOT NULL CHECK (vcpu > 0),
	memory_gib           numeric NOT NULL CHECK (memory_gib > 0),
	gpu_count            integer NOT NULL DEFAULT 0 CHECK (gpu_count >= 0),
	gpu_memory           text,
	architecture         text NOT NULL CHECK (architecture IN ('x86_64', 'arm64')),
	physical_processor   text,
	clock_speed          text,
	network_performance  text,
	storage              text,
	current_generation   boolean NOT NULL,
	updated_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE finops.instance_types IS
	'EC2 instance types from the AWS Price List (instance_catalog_updater): vCPUs, memory,'
	' GPUs, architecture, network, storage.';

-- One row per price: an On-Demand rate, or a Reserved Instance term (lease,
-- purchase option, offering class) with its hourly part and upfront fee.
CREATE TABLE finops.instance_prices (
	region               text NOT NULL,                -- us-east-1
	instance_type        text NOT NULL,
	operating_system     text NOT NULL,                -- Linux, Windows, RHEL, ...
	tenancy              text NOT NULL,                -- Shared, Dedicated
	license_model        text NOT NULL,
	pre_installed_sw     text NOT NULL,                -- NA, SQL Web, ...
	term                 text NOT NULL CHECK (term IN ('OnDemand', 'Reserved')),
	purchase_option      text,                         -- No/Partial/All Upfront; NULL on demand
	offering_class       text,                         -- standard, convertible; NULL on demand
	lease_length         text,                         -- 1yr, 3yr; NULL on demand
	price_per_hour       numeric NOT NULL CHECK (price_per_hour >= 0),
	upfront_fee          numeric NOT NULL DEFAULT 0 CHECK (upfront_fee >= 0),
	currency             text NOT NULL,
	effective_date       date,
	sku                  text NOT NULL,
	offer_term_code      text NOT NULL,
	usage_type           text,
	operation            text,
	offer_version        text NOT NULL,
	PRIMARY KEY (region, sku, offer_term_code)
);
CREATE INDEX instance_prices_type ON finops.instance_prices (instance_type, region);
COMMENT ON TABLE finops.instance_prices IS
	'EC2 On-Demand and Reserved prices per region from the AWS Price List; a region is'
	' replaced atomically when its offer version changes.';
COMMENT ON COLUMN finops.instance_prices.price_per_hour IS
	'The hourly rate (for a Reserved term, the part billed by the hour; see upfront_fee).';

-- The offer version each region was last loaded from.
CREATE TABLE finops.instance_catalog_versions (
	region               text PRIMARY KEY,
	offer_version        text NOT NULL,
	publication_date     timestamptz,
	source               text NOT NULL,
	prices               integer NOT NULL,
	rows_read            bigint NOT NULL,
	rows_skipped         jsonb NOT NULL DEFAULT '{}',
	run_id               bigint REFERENCES finops.job_runs,
	loaded_at            timestamptz NOT NULL DEFAULT now()
);

-- What rightsizing compares: the current On-Demand Linux, shared-tenancy
-- price of each instance type in each region, with its hardware.
CREATE VIEW finops.instance_ondemand_linux AS
SELECT p.region, p.instance_type, t.family, t.generation, t.vcpu, t.memory_gib, t.gpu_count,
       t.architecture, t.current_generation, p.price_per_hour, p.currency, p.offer_version
  FROM finops.instance_prices p
  JOIN finops.instance_types t USING (instance_type)
 WHERE p.term = 'OnDemand' AND p.operating_system = 'Linux' AND p.tenancy = 'Shared'
   AND p.license_model = 'No License required' AND p.pre_installed_sw = 'NA';

GRANT SELECT ON finops.instance_types, finops.instance_prices, finops.instance_catalog_versions,
	finops.instance_ondemand_linux TO finops_reader, finops_writer;
GRANT INSERT, UPDATE, DELETE ON finops.instance_types, finops.instance_prices,
	finops.instance_catalog_versions TO finops_writer;
