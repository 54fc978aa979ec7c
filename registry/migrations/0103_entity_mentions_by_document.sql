-- Mentions were keyed (entity_id, doc_id, run_id) with a second index on run_id (which
-- orders by entity_id within a run): every mention landed on two random B-tree pages.
-- Keyed (run_id, doc_id, entity_id), one document's mentions are neighbours, inserted
-- together, and the run and (run, document) lookups of rollback use the key; the index on
-- entity_id (which holds the key too) serves show, history and the rollback checks.
-- Registry bench, 200k entities / 200k names: see the closing note of issue 4.
CREATE TABLE entity_mentions_by_doc (
  entity_id TEXT NOT NULL,
  doc_id    TEXT NOT NULL,
  run_id    TEXT NOT NULL,
  PRIMARY KEY (run_id, doc_id, entity_id)
) WITHOUT ROWID;
INSERT INTO entity_mentions_by_doc(entity_id, doc_id, run_id)
  SELECT entity_id, doc_id, run_id FROM entity_mentions;
DROP TABLE entity_mentions;
ALTER TABLE entity_mentions_by_doc RENAME TO entity_mentions;
CREATE INDEX entity_mentions_entity ON entity_mentions(entity_id);
