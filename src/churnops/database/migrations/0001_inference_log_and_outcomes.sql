-- The inference log (feature columns are added per feature schema by the writer) and the
-- outcomes joined to it; the same tables and meaning as the SQLite log file. The log is
-- partitioned by day of ts (the writer creates a day's partition with its first rows), so
-- `churnops logs prune` drops whole partitions.
CREATE TABLE inference_log (
    id bigserial NOT NULL,
    ts double precision NOT NULL,
    request_id text NOT NULL,
    customer_id text,
    model_version integer NOT NULL,
    probability double precision NOT NULL,
    decision integer NOT NULL,
    latency_ms double precision NOT NULL,
    variant text,
    variant_random integer,
    experiment_id text,
    shadow_version integer,
    shadow_probability double precision
) PARTITION BY RANGE (ts);
CREATE INDEX inference_log_ts ON inference_log (ts);
CREATE INDEX inference_log_request ON inference_log (request_id);
CREATE INDEX inference_log_customer ON inference_log (customer_id, ts);

CREATE TABLE outcomes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id text NOT NULL,
    customer_id text NOT NULL,
    outcome smallint NOT NULL CHECK (outcome IN (0, 1)),
    observed_at double precision NOT NULL,
    recorded_at double precision NOT NULL,
    source text NOT NULL,
    UNIQUE (request_id, customer_id)
);
CREATE INDEX outcomes_customer ON outcomes (customer_id);

CREATE TABLE outcome_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outcome_id bigint NOT NULL REFERENCES outcomes (id),
    old_outcome smallint NOT NULL,
    new_outcome smallint NOT NULL,
    old_observed_at double precision NOT NULL,
    new_observed_at double precision NOT NULL,
    changed_at double precision NOT NULL,
    source text NOT NULL
);
