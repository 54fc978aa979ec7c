-- The ledger's core: documents and runs. Every stage's tables hang off these.
-- Numbering: 0001-0099 core ledger, 0100-0199 entity registry, 0200-0299 extract,
-- 0300-0399 verify, 0400-0499 graph staging, 0500-0599 run coordinator.
CREATE TABLE documents (
  doc_id        TEXT PRIMARY KEY,          -- 'sha256:' || hex sha256 of text
  source        TEXT NOT NULL,
  part          INTEGER NOT NULL,
  format        TEXT NOT NULL,
  form_type     TEXT,
  cik           TEXT,
  company       TEXT,
  accession     TEXT,
  filed_at      TEXT,
  chars         INTEGER NOT NULL,          -- bytes of UTF-8 text
  metadata_json TEXT NOT NULL DEFAULT '{}',
  warnings_json TEXT NOT NULL DEFAULT '[]',
  text          TEXT NOT NULL,
  first_seen_at TEXT NOT NULL
);

CREATE TABLE runs (
  run_id         TEXT PRIMARY KEY,
  lane           TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  schema_version TEXT NOT NULL,
  drop_path      TEXT,
  state          TEXT NOT NULL DEFAULT 'started',  -- started|submitted|collected|staged|finished|failed|rolled_back
  options_json   TEXT NOT NULL DEFAULT '{}',
  started_at     TEXT NOT NULL,
  finished_at    TEXT
);

-- Which documents a run covers and how far each got.
CREATE TABLE run_documents (
  run_id  TEXT NOT NULL REFERENCES runs(run_id),
  doc_id  TEXT NOT NULL REFERENCES documents(doc_id),
  state   TEXT NOT NULL DEFAULT 'parsed',  -- parsed|planned|extracted|verified|staged|failed
  error   TEXT,
  PRIMARY KEY (run_id, doc_id)
);
CREATE INDEX run_documents_doc ON run_documents(doc_id);
