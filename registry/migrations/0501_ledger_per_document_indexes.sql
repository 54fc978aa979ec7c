-- The coordinator reads and deletes a run's facts one document at a time
-- (WHERE run_id = ? AND doc_id = ?). Without these indexes SQLite chose the primary keys,
-- which lead with run_id, and read every fact of the run for each document: a run's
-- resolve and stage phases grew with the square of its documents.
-- The index also holds the ORDER BY (request_id, fact_index), or SQLite keeps the primary key.
CREATE INDEX verified_facts_run_doc ON verified_facts(run_id, doc_id, kind, request_id, fact_index);
CREATE INDEX staged_facts_run_doc ON staged_facts(run_id, doc_id);
