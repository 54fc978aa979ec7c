-- Issue 20 (money): the input tokens of each attempt that the provider read from its prompt
-- cache (OpenAI prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens) or
-- wrote to it (Anthropic cache_creation_input_tokens); input_tokens counts them too. Costs
-- are priced with them (the cached price), so `fgraph costs` and the reconciliation agree.
ALTER TABLE attempts ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;

-- `fgraph costs --period` and the spend caps read attempts by the time they were recorded.
CREATE INDEX attempts_created ON attempts(created_at);
