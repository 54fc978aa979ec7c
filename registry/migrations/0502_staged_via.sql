-- A document a run staged without writing to Neo4j, because another live run had already
-- staged exactly the same facts (a drop fed again, invariant 7), names that run here: the
-- graph holds this run's facts as that run's edges. NULL when the run's own edges hold
-- them. Rolling back the named run first hands the document over (stages it as this run's
-- own), so a rollback in any order leaves exactly the facts of the runs still live.
ALTER TABLE run_documents ADD COLUMN staged_via TEXT;
CREATE INDEX run_documents_staged_via ON run_documents(staged_via, doc_id) WHERE staged_via IS NOT NULL;
