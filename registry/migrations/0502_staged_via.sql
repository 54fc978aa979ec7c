-- A document a run staged without writing to Neo4j, because another live run had already
-- staged exactly the same facts (a drop fed again, invariant 7), names that run here: the
-- graph holds this run's facts as that run's edges. NULL when the run's own edges hold
-- them. Rolling back the named run first hands the document over (stages it as this run's
-- own), so a rollback in any order leaves exactly the facts of the runs still live.
ALTER TABLE run_documents ADD COLUMN staged_via TEXT;
CREATE INDEX run_documents_staged_via ON run_documents(staged_via, doc_id) WHERE staged_via IS NOT NULL;

-- What "live" means, once: a run not rolled back (nor being rolled back), and the
-- documents live runs staged as their own (their edges hold the facts in Neo4j).
CREATE VIEW live_runs AS
  SELECT rowid AS seq, run_id, model, prompt_version, schema_version, started_at FROM runs
  WHERE state NOT IN ('rolled_back', 'rolling_back');
CREATE VIEW held_documents AS
  SELECT rd.run_id, rd.doc_id FROM run_documents rd JOIN live_runs r ON r.run_id = rd.run_id
  WHERE rd.state = 'staged' AND rd.staged_via IS NULL;
