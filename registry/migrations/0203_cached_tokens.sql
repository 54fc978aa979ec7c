-- Issue 20 (money): the input tokens of each attempt that the provider read from its prompt
-- cache (OpenAI prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens) or
-- wrote to it (Anthropic cache_creation_input_tokens); input_tokens counts them too. Costs
-- are priced with them (the cached price), so `fgraph costs` and the reconciliation agree.
ALTER TABLE attempts ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;

-- The spend caps sum the attempts of the current day or month (extract::spent_since).
CREATE INDEX attempts_created ON attempts(created_at);
-- `fgraph costs` (extract::spend_by_run) groups every attempt by run, lane and model: this
-- index holds every column it reads, in that order, so the query reads the index alone and
-- needs no sort (bench/costs_bench.py, 1,000 runs and 210,000 attempts: 414-534 ms without
-- it, 98 ms with it, measured with the sqlite3 module on a loaded machine).
CREATE INDEX attempts_spend ON attempts(run_id, lane, model, created_at, input_tokens,
                                        cached_input_tokens, output_tokens, cost_usd);
