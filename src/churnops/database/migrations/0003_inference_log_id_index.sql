-- The newest N logged rows (`--last N`: ORDER BY id DESC LIMIT N) read through an index on id:
-- each day partition's index is walked backwards and merged, so the read costs N rows, not a
-- scan of the whole log. Built in this migration's transaction, which holds the log's writers
-- while it runs (about a second per million rows).
CREATE INDEX inference_log_id ON inference_log (id);
