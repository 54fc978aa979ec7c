-- Issue 20: the canary gate's scores, one row per run that had a canary (owned by run/).
CREATE TABLE run_canaries (
  run_id             TEXT PRIMARY KEY REFERENCES runs(run_id),
  live_lane          TEXT NOT NULL,             -- the lane the sample went through
  documents          INTEGER NOT NULL,          -- sampled documents
  rows               INTEGER NOT NULL,          -- their requests
  answered           INTEGER NOT NULL,          -- rows the model answered
  schema_valid       INTEGER NOT NULL,          -- answered rows with a schema-valid output
  facts_proposed     INTEGER NOT NULL,
  facts_accepted     INTEGER NOT NULL,
  leak_alarms        INTEGER NOT NULL,
  schema_valid_rate  REAL NOT NULL,
  grounded_rate      REAL NOT NULL,
  passed             INTEGER NOT NULL,          -- 1: the bulk went out
  failures_json      TEXT NOT NULL,             -- each threshold missed and by how much
  cost_usd           REAL NOT NULL,
  seconds            REAL NOT NULL,
  created_at         TEXT NOT NULL
);
