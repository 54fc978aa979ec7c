-- Extract stage ledger: every request, every remote object, every attempt and result.
-- A request is keyed by its custom_id = hash(chunk text, model, prompt, schema), so a
-- request completed once is never sent again by any run (DESIGN invariant 7).
CREATE TABLE requests (
  custom_id          TEXT PRIMARY KEY,
  doc_id             TEXT NOT NULL,            -- the document of the first run that planned it
  run_id             TEXT NOT NULL,            -- that first run
  chunk_index        INTEGER NOT NULL,
  chunk_count        INTEGER NOT NULL,
  char_start         INTEGER NOT NULL,         -- byte range of the chunk in the document text
  char_end           INTEGER NOT NULL,
  model              TEXT NOT NULL,
  prompt_version     TEXT NOT NULL,
  schema_version     TEXT NOT NULL,
  est_input_tokens   INTEGER NOT NULL,
  est_output_tokens  INTEGER NOT NULL,
  est_cost_usd       REAL NOT NULL,
  state              TEXT NOT NULL DEFAULT 'planned',  -- planned|submitted|completed|failed|dead
  outcome            TEXT,                     -- outcome of the last attempt
  attempts           INTEGER NOT NULL DEFAULT 0,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL
);
CREATE INDEX requests_state ON requests(state);

-- Every (document, chunk) of a run and the request that covers it. Two chunks with the
-- same text share one request (counted as deduplicated).
CREATE TABLE run_requests (
  run_id       TEXT NOT NULL,
  doc_id       TEXT NOT NULL,
  chunk_index  INTEGER NOT NULL,
  custom_id    TEXT NOT NULL REFERENCES requests(custom_id),
  char_start   INTEGER NOT NULL,
  char_end     INTEGER NOT NULL,
  reused       INTEGER NOT NULL DEFAULT 0,     -- 1: already completed when the run planned it
  PRIMARY KEY (run_id, doc_id, chunk_index)
);
CREATE INDEX run_requests_custom ON run_requests(custom_id);

-- Remote objects (uploaded files, batches), recorded BEFORE they are created remotely
-- (state 'writing'/'uploading'/'creating') and updated after. `obj_key` is our
-- idempotency key, sent as batch metadata fgraph_key and as the file name.
CREATE TABLE remote_objects (
  obj_key         TEXT PRIMARY KEY,
  kind            TEXT NOT NULL,               -- batch
  provider        TEXT NOT NULL,               -- openai|anthropic
  lane            TEXT NOT NULL,
  model           TEXT NOT NULL,
  run_id          TEXT NOT NULL,
  local_path      TEXT,                        -- the JSONL written for upload
  file_id         TEXT,                        -- OpenAI input file id once uploaded
  remote_id       TEXT,                        -- batch id once created
  state           TEXT NOT NULL,               -- writing|uploading|creating|<provider status>|collected|abandoned
  rows            INTEGER NOT NULL DEFAULT 0,
  output_file_id  TEXT,
  error_file_id   TEXT,
  detail          TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX remote_objects_state ON remote_objects(state);

-- Which request rows (and which attempt of each) a batch carries.
CREATE TABLE batch_rows (
  obj_key    TEXT NOT NULL REFERENCES remote_objects(obj_key),
  custom_id  TEXT NOT NULL REFERENCES requests(custom_id),
  attempt    INTEGER NOT NULL,
  PRIMARY KEY (obj_key, custom_id)
);
CREATE INDEX batch_rows_custom ON batch_rows(custom_id);

-- One row per attempt of a request: lane, outcome, usage and cost (retries included).
CREATE TABLE attempts (
  attempt_id     INTEGER PRIMARY KEY AUTOINCREMENT,
  custom_id      TEXT NOT NULL REFERENCES requests(custom_id),
  attempt        INTEGER NOT NULL,
  run_id         TEXT NOT NULL,
  lane           TEXT NOT NULL,
  model          TEXT NOT NULL,
  obj_key        TEXT,                         -- the batch that carried it
  outcome        TEXT NOT NULL,
  input_tokens   INTEGER NOT NULL DEFAULT 0,
  output_tokens  INTEGER NOT NULL DEFAULT 0,
  cost_usd       REAL NOT NULL DEFAULT 0,
  error          TEXT,
  created_at     TEXT NOT NULL
);
CREATE INDEX attempts_custom ON attempts(custom_id);
CREATE INDEX attempts_run ON attempts(run_id);

-- The raw extraction output of each completed request.
CREATE TABLE results (
  custom_id     TEXT PRIMARY KEY REFERENCES requests(custom_id),
  content       TEXT NOT NULL,
  lane          TEXT NOT NULL,
  model         TEXT NOT NULL,
  run_id        TEXT NOT NULL,
  completed_at  TEXT NOT NULL
);

-- Requests that used up the retry ladder.
CREATE TABLE dead_letters (
  custom_id   TEXT PRIMARY KEY REFERENCES requests(custom_id),
  run_id      TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  detail      TEXT,
  attempts    INTEGER NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE INDEX dead_letters_run ON dead_letters(run_id);
