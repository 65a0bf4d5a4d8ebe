-- The model registry. registry_state holds the registry document (versions with their
-- metadata and status, the current version, the running experiment: the file registry's
-- metadata.json) in one row, locked by every writer; current_version repeats the pointer for
-- SQL readers. Version numbers come from a sequence (never handed out twice, even by a
-- training that fails). The history is append-only (a trigger refuses UPDATE, DELETE and
-- TRUNCATE). Artifacts (ONNX, joblib, reference and hold-out samples…) are stored with their
-- SHA-256, so replicas need no shared filesystem.
CREATE SEQUENCE registry_versions MINVALUE 1 MAXVALUE 2147483647 NO CYCLE;

CREATE TABLE registry_state (
    id integer PRIMARY KEY CHECK (id = 1),
    document jsonb NOT NULL,
    current_version integer,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO registry_state (id, document) VALUES (1, '{}');

CREATE TABLE registry_history (
    seq integer PRIMARY KEY,
    event jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION registry_history_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the registry history is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER registry_history_append_only BEFORE UPDATE OR DELETE ON registry_history
    FOR EACH ROW EXECUTE FUNCTION registry_history_refuse_change();
CREATE TRIGGER registry_history_no_truncate BEFORE TRUNCATE ON registry_history
    FOR EACH STATEMENT EXECUTE FUNCTION registry_history_refuse_change();

CREATE TABLE registry_artifacts (
    version integer NOT NULL,
    name text NOT NULL,
    sha256 text NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (version, name)
);
