// extract: documents become model requests, and model rows become recorded results.
//
// Owns: request planning (one request per document, or per chunk of one long document),
// the binding of prompt, schema and price table (embedded at build time from schemas/),
// custom ids, token and cost estimates, the pre-submit isolation check, the four lanes
// (openai-batch, anthropic-batch, openai-sync, local) and their provider clients,
// polling, result matching by custom_id, the retry ladder (batch, batch, batch, sync,
// dead letter; failed rows only) and the accounting of every attempt in the ledger
// (tables of migration 0200: requests, run_requests, remote_objects, batch_rows,
// attempts, results, dead_letters).
//
// The prompt contract (ARCHITECTURE.md): the instructions are the system message; the
// last user message is exactly "<document>\n" + the chunk's text + "\n</document>".
// Nothing of any other document is in a request. check_isolation() proves it for every
// rendered request before it is written to a batch file or sent.
//
// The form extractor (forms.cpp) runs ahead of the model when ExtractorOptions::mode asks:
// its output is recorded as a completed request of extractor "rules" (never sent), so the
// verify, registry and graph stages take its facts exactly as a model's.
//
// "Schema invalid" here means only that the output is not a JSON object with the two
// arrays of the schema; full validation is the verify stage's job.
//
// Threading: plan_document/render/check functions are reentrant. An Extractor uses its
// Store from the calling thread only; sync lanes run their HTTP requests on up to
// `concurrency` worker threads and hand rows back under a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/core.h"
#include "ingest/ingest.h"
#include "registry/registry.h"

namespace fgraph::extract {

// ---------------------------------------------------------------------------------
// Outcomes and lanes.

// The one outcome of each row attempt.
enum class Outcome {
  kCompleted,       // JSON object with "entities" and "relations" arrays
  kInvalidRequest,  // the provider rejected the request (4xx other than 408/409/429)
  kTransient,       // 408/409/429/5xx, network, row missing from the output, cancelled
  kExpired,         // the batch window closed before the row ran
  kRefused,         // a refusal (OpenAI `refusal`, Anthropic stop_reason refusal, content filter)
  kTruncated,       // cut off by the output limit (finish_reason length / max_tokens)
  kSchemaInvalid,   // content is not JSON, or not an object with the two arrays
};
// "completed" | "invalid_request" | "transient" | "expired" | "refused" | "truncated" |
// "schema_invalid"
std::string_view to_string(Outcome o);
std::optional<Outcome> parse_outcome(std::string_view s);

// kAnthropicSync: the live Messages API (issue 20: the canary and drift lane of
// anthropic-batch; also a lane of its own).
enum class LaneKind { kOpenAiBatch, kAnthropicBatch, kOpenAiSync, kLocal, kAnthropicSync };
// "openai-batch" | "anthropic-batch" | "openai-sync" | "local" | "anthropic-sync"
std::string_view to_string(LaneKind k);
std::optional<LaneKind> parse_lane(std::string_view s);
// Price-table provider of a lane: "openai" | "anthropic" | "local".
std::string_view provider_of(LaneKind k);
bool is_batch_lane(LaneKind k);
// The live lane of a batch lane's provider (openai-sync, anthropic-sync); a live lane itself.
LaneKind live_lane_of(LaneKind k);

// ---------------------------------------------------------------------------------
// Prompt, schema and prices (embedded from schemas/ at build time).

struct PromptBundle {
  std::string prompt_version;  // "extract.v1" (schemas/prompts/extract.v1.txt)
  std::string schema_version;  // "extraction.v1" (schemas/extraction.v1.json)
  std::string system_prompt;   // the prompt text, sent as the system message
  std::string schema_json;     // the JSON Schema text, sent byte for byte
};
// The bundle built into this binary.
const PromptBundle& bundled_prompt();

struct TokenPrice {
  double input_per_mtok = 0;   // USD per million input tokens
  double output_per_mtok = 0;  // USD per million output tokens
  // USD per million input tokens read from the provider's prompt cache (OpenAI
  // `cached_tokens`, Anthropic `cache_read_input_tokens`), and written to it (Anthropic
  // `cache_creation_input_tokens`). A price entry without "cached_input" / "cache_write"
  // takes the input price for them (parse), so a missing figure never lowers a cost.
  double cached_input_per_mtok = 0;
  double cache_write_per_mtok = 0;
};
struct ModelPrice {
  TokenPrice sync;
  TokenPrice batch;
  // The shortest prefix the provider caches for this model ("cache_min_tokens": OpenAI
  // 1024, Anthropic 1024 to 4096 by model); a shorter one is billed in full. The estimate
  // prices the instructions and schema as cached only from this length; none: never.
  std::optional<std::int64_t> cache_min_tokens;
};

struct Usage;

class PriceTable {
 public:
  // Parses the schemas/prices.json format. kInvalidInput when malformed.
  static Result<PriceTable> parse(std::string_view json);
  // The table built into this binary.
  static const PriceTable& bundled();
  // The price of `model` at `provider` ("*" entries match any model), or nullopt.
  std::optional<ModelPrice> find(std::string_view provider, std::string_view model) const;
  // Adds every entry of `over` to this table, replacing an entry of the same provider and
  // model (a prices file named in the settings over the built-in table).
  void merge(const PriceTable& over);
  // USD for the given usage, every input token at the uncached input price.
  static double cost_usd(const TokenPrice& p, std::int64_t input_tokens,
                         std::int64_t output_tokens);
  // USD for a usage whose input tokens include cache reads and writes (struct Usage).
  static double cost_usd(const TokenPrice& p, const Usage& usage);
  const std::string& read_on() const { return read_on_; }

 private:
  std::map<std::string, std::map<std::string, ModelPrice>> prices_;
  std::string read_on_;
};

// ---------------------------------------------------------------------------------
// Planning.

struct PlanOptions {
  LaneKind lane = LaneKind::kOpenAiBatch;  // decides the price tier and provider
  std::string model = "gpt-4.1-mini";      // model name sent to the provider
  // Input budget of one request, in estimated tokens, for the document text alone; a
  // longer document is split on paragraph (then line, sentence, word) boundaries.
  std::int64_t max_document_tokens = 100000;
  std::int64_t max_output_tokens = 8192;  // max_completion_tokens / max_tokens per request
  double chars_per_token = 4.0;           // estimate: bytes of UTF-8 per token
  // Expected output tokens as a fraction of the chunk's input tokens (capped at
  // max_output_tokens); the cost estimate adds a 25% buffer on top.
  double output_ratio = 0.25;
  int max_chunks = 256;  // a document needing more chunks is rejected (kInvalidInput)
  const PromptBundle* prompt = nullptr;  // nullptr: bundled_prompt()
  const PriceTable* prices = nullptr;    // nullptr: PriceTable::bundled()
};

// One model request: one chunk of one document.
struct ExtractionRequest {
  std::string custom_id;  // make_custom_id(chunk text, model, prompt, schema)
  std::string doc_id;     // the one document this request carries
  int chunk_index = 0;    // 0-based
  int chunk_count = 1;
  std::int64_t char_start = 0;  // byte offsets of the chunk in the document's text
  std::int64_t char_end = 0;
  std::string model;
  std::string prompt_version;
  std::string schema_version;
  std::int64_t est_input_tokens = 0;   // prompt + schema + chunk
  // Of est_input_tokens, the instructions and schema, the same in every request and
  // expected from the provider's prompt cache (priced at its cached price).
  std::int64_t est_cached_input_tokens = 0;
  std::int64_t est_output_tokens = 0;  // including the 25% buffer
  double est_cost_usd = 0;             // at the lane's price tier (0 on the local lane)
};

// "fg-" + the first 48 hex characters of sha256_fields(text, model, prompt, schema):
// 51 characters of [a-z0-9-], within OpenAI's and Anthropic's custom_id limits.
std::string make_custom_id(std::string_view chunk_text, std::string_view model,
                           std::string_view prompt_version, std::string_view schema_version);

// Splits one document's text into chunks of at most `max_bytes`, cutting at the last
// paragraph break, else line break, else sentence end, else space, else a UTF-8
// boundary within the window. Returns [start, end) byte ranges covering the text.
std::vector<std::pair<std::int64_t, std::int64_t>> split_text(std::string_view text,
                                                              std::int64_t max_bytes);

// A paid lane (every lane but local) refuses a model the price table has no price for:
// a model priced at $0 would pass any budget. kInvalidInput naming the model, provider and
// lane; ok for the local lane and for priced models. `prices` nullptr: the bundled table.
Status check_priced(LaneKind lane, std::string_view model, const PriceTable* prices);

// Plans the requests for ONE document. kInvalidInput when the text is empty or needs
// more than max_chunks chunks.
Result<std::vector<ExtractionRequest>> plan_document(const ingest::Document& doc,
                                                     const PlanOptions& options);

// How a request body is shaped for a lane.
enum class LocalFormat {
  kJsonObjectSchema,  // response_format {"type":"json_object","schema":S}: llama-cpp-python
  kJsonSchema,        // response_format {"type":"json_schema","json_schema":{"schema":S}}:
                      // llama.cpp llama-server, vLLM
};
struct RenderOptions {
  LaneKind lane = LaneKind::kOpenAiBatch;
  LocalFormat local_format = LocalFormat::kJsonObjectSchema;
  std::int64_t max_output_tokens = 8192;
  const PromptBundle* prompt = nullptr;  // nullptr: bundled_prompt()
};
// The JSON body of the request for `lane`: a chat completion body for OpenAI and local
// lanes, a Messages API `params` body (forced tool call "emit_extraction" with the
// schema as input_schema) for Anthropic. `chunk_text` must be the request's slice.
std::string render_body(const ExtractionRequest& request, std::string_view chunk_text,
                        const RenderOptions& options);

// The isolation proof for one rendered body: it parses, its only system text is the
// prompt, it has exactly one user message, that message is "<document>\n" + X +
// "\n</document>", and X equals doc_text[char_start, char_end) of the request's one
// document. kInternal (a bug of ours) when any of this fails.
Status check_isolation(std::string_view body_json, const ExtractionRequest& request,
                       std::string_view doc_text, const RenderOptions& options);

// ---------------------------------------------------------------------------------
// The form extractor (forms.cpp): facts that need no model.
//
// Reads the structured rendering ingest gives a filing (XML forms as "label: value"
// lines, HTML tables as " | "-joined rows) and proposes facts in exactly the extraction v1
// shape, each quote a verbatim slice of the document's text, so the verify stage checks
// them as it checks a model's. Deterministic: the same document gives the same output
// bytes. Covered:
//   - Forms 3/4/5 and amendments (XML): the issuer (CIK, ticker), each reporting owner
//     (CIK), OFFICER_OF (role = officer title), DIRECTOR_OF, BENEFICIAL_OWNER_OF for a
//     ten-percent owner, HOLDS per security title (role = the title); dates = period;
//   - 13F-HR: the cover's manager (CIK, HEADQUARTERED_IN its city) and the information
//     table's issuers (the CUSIP in each quote: form_cusip); HOLDS from the manager, the
//     entity where the table's text names it, else the document's filer
//     (verify::kFilerRef) when its metadata names one;
//   - EX-21: SUBSIDIARY_OF (with the percent owned when a column states it) and
//     INCORPORATED_IN for each table row; the parent is the name after "Subsidiaries of",
//     else ("of the Registrant") the document's filer (verify::kFilerRef), if any;
//   - the SEC submission header (ingest's part 0): each company's CIK, INCORPORATED_IN
//     its state of incorporation and HEADQUARTERED_IN its business city;
//   - Schedule 13D/13G cover pages (labelled as on the SEC form): BENEFICIAL_OWNER_OF
//     with ownership_percent, for each reporting person holding more than 0%.
// A quote runs from the line naming a fact's end to the line stating it; the document's
// own subject (its metadata CIK or company) need not be in it (verify's rule).

// The version of the form extractor's rules; part of its request ids, so that a change
// of rules is a new extraction, as a new prompt version is. v2: the filer (@filer) as
// the 13F table's manager and the EX-21 registrant.
inline constexpr std::string_view kFormsVersion = "forms.v2";

enum class FormKind {
  kNone, kOwnership, kThirteenFCover, kThirteenFTable, kSchedule13, kEx21, kSubmissionHeader
};
// "none" | "ownership" | "13f-cover" | "13f-table" | "schedule-13" | "ex-21" | "sec-header"
std::string_view to_string(FormKind k);

// The CUSIP a form extractor's quote states on a line of its own ("cusip: 023135106", as
// a 13F information table's row renders), else nullopt. The registry takes it as the
// entity's identifier (registry::EntityInput::cusip) only from facts of the rules: the
// extraction v1 shape has no CUSIP field, and the quote is what verify checked.
std::optional<std::string> form_cusip(std::string_view evidence);

// kComplete: the rules read every fact of the kind of document (ownership forms, 13F
// covers and tables, EX-21 lists), so rules+model sends it to no model. kPartial: some
// facts (a 13D/G's cover page; its items are prose). kNone: not a form the rules read.
enum class Coverage { kNone, kPartial, kComplete };
std::string_view to_string(Coverage c);

struct FormExtraction {
  FormKind kind = FormKind::kNone;
  Coverage coverage = Coverage::kNone;
  std::string output_json;  // extraction v1: {"entities":[...],"relations":[...]}
  int entities = 0;
  int relations = 0;
};

// The form facts of one document; kind kNone (empty output) for a document the rules do
// not read. kInvalidInput (detail "malformed_form") for a form missing what defines it
// (an ownership form without issuer or reporting owner): a per-document error.
Result<FormExtraction> extract_form(const ingest::Document& doc);

// Which extractors a run uses (`fgraph run --extract`, setting `extract`).
enum class ExtractMode {
  kRules,          // the form extractor only; nothing is sent to a model
  kModel,          // the model only (as before the form extractor)
  kRulesAndModel,  // form facts for every document; the model for those not covered completely
};
std::string_view to_string(ExtractMode m);  // "rules" | "model" | "rules+model"
std::optional<ExtractMode> parse_extract_mode(std::string_view s);

// ---------------------------------------------------------------------------------
// Rows and lanes.

// A row's token usage as the provider reported it, normalised: `input_tokens` counts every
// input token, those read from or written to the prompt cache included (OpenAI's
// prompt_tokens does; for Anthropic it is input_tokens + cache_read_input_tokens +
// cache_creation_input_tokens).
struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t cached_input_tokens = 0;  // read from the prompt cache
  std::int64_t cache_write_tokens = 0;   // written to the prompt cache (Anthropic)
  std::int64_t output_tokens = 0;
};

struct RowResult {
  std::string custom_id;
  Outcome outcome = Outcome::kTransient;
  std::string content;  // the raw JSON text of the extraction (completed rows)
  Usage usage;
  double cost_usd = 0;
  std::string lane;   // to_string(LaneKind)
  std::string model;
  // The model the provider says answered (`model` of the response; "" when it did not say).
  // A moving alias shows here first (issue 20).
  std::string answered_model;
  int attempt = 1;    // 1-based attempt of this row
  std::string batch_key;     // our key of the batch that carried it, "" for sync lanes
  std::string error_detail;  // readable reason for failures
};

// Where lanes reach providers. The CLI fills it from the environment; keys are never logged.
struct ProviderConfig {
  std::string openai_base_url = "https://api.openai.com/v1";
  std::string openai_api_key;
  std::string anthropic_base_url = "https://api.anthropic.com";
  std::string anthropic_api_key;
  std::string local_base_url = "http://127.0.0.1:8081/v1";
  std::string local_api_key;  // sent as Bearer when non-empty
};

struct ExtractorOptions {
  LaneKind lane = LaneKind::kOpenAiBatch;  // the primary lane
  PlanOptions plan;                        // model, budgets; plan.lane is set to `lane`
  // The lane of the last strike after `batch_attempts` primary attempts; nullopt: none.
  // Default: openai-sync behind openai-batch, none otherwise.
  std::optional<LaneKind> fallback_lane;
  bool use_default_fallback = true;  // apply the default above when fallback_lane is unset
  int primary_attempts = 3;          // attempts on the primary lane before the fallback
  LocalFormat local_format = LocalFormat::kJsonObjectSchema;
  ProviderConfig providers;
  std::string work_dir;  // batch files go to work_dir/batches/ ($FGRAPH_HOME)
  std::size_t max_lines_per_file = 50000;           // OpenAI: per batch input file
  std::uint64_t max_bytes_per_file = 200ull << 20;  // OpenAI: per batch input file
  std::size_t max_requests_per_anthropic_batch = 10000;
  std::chrono::milliseconds poll_initial{2000};  // first wait between batch polls
  std::chrono::milliseconds poll_max{60000};     // cap of the doubling wait
  std::chrono::milliseconds max_wait{std::chrono::hours(26)};  // give up polling (kTransient)
  int sync_concurrency = 4;                      // parallel requests on sync/local lanes
  std::chrono::milliseconds request_timeout{600000};  // per sync/local HTTP request
  RetryPolicy http_retry{.max_attempts = 5};     // per HTTP call (429/5xx/network)
  // Refuse to submit past this estimate (kInvalidInput, detail "budget"); must be finite
  // and >= 0. The primary and fallback lanes must have a price for plan.model
  // (check_priced), against plan.prices, which also prices every recorded row.
  std::optional<double> budget_usd;
  // Spend caps (settings budget.daily_usd, budget.monthly_usd): before anything is sent,
  // what the ledger spent in the current UTC day / month (spent_since: recorded attempts
  // plus the estimates of rows in open batches) plus this call's estimate must not exceed
  // them (kInvalidInput, detail "spend_cap"). Finite and >= 0; none = no cap.
  std::optional<double> daily_cap_usd;
  std::optional<double> monthly_cap_usd;
  // Sent as OpenAI batch `metadata` beside fgraph's own keys (the run's tags; at most
  // kMaxBatchMetadataTags). Anthropic's Message Batches take no metadata.
  std::map<std::string, std::string> batch_metadata;
  bool retry_dead_letters = false;               // resubmit rows dead-lettered by earlier runs
  // Send each pending row once on the primary lane and stop: failures stay pending for a
  // later ladder, nothing is dead-lettered (issue 20: the canary).
  bool single_pass = false;
  // The cascade: which extractors run. kRulesAndModel records the form extractor's facts
  // of every form it reads and sends the model only documents it does not cover
  // completely; kRules sends nothing to a model. Default kModel here (the command line's
  // default is rules+model).
  ExtractMode mode = ExtractMode::kModel;
};

// OpenAI batch metadata holds 16 pairs (keys <= 64 chars, values <= 512); fgraph's own
// keys (fgraph_key, fgraph_run) take two.
inline constexpr std::size_t kMaxBatchMetadataTags = 14;

// One (document, chunk) of a plan and what the run will do with it.
struct PlanLine {
  ExtractionRequest request;
  // "submit" | "reused" (completed in the ledger: no cost) | "in_flight" (in an open
  // batch of an earlier command) | "dead" (dead-lettered earlier, not retried) |
  // "duplicate" (the same text as an earlier chunk of this drop: one request serves both)
  std::string fate;
};

// Dry-run and pre-submission view of a run.
struct Plan {
  std::vector<PlanLine> lines;              // every (document, chunk), in plan order
  std::vector<ExtractionRequest> requests;  // unique requests of the run, in plan order
  std::int64_t documents = 0;
  std::int64_t requests_planned = 0;       // chunks of all documents, before dedup
  std::int64_t requests_deduplicated = 0;  // same custom_id twice within this drop
  std::int64_t requests_reused = 0;        // already completed in the ledger: zero cost
  std::int64_t requests_in_flight = 0;     // in an open batch of an earlier command
  std::int64_t requests_dead = 0;          // dead-lettered earlier, not retried
  std::int64_t requests_to_submit = 0;
  std::int64_t est_input_tokens = 0;       // of the requests to submit
  std::int64_t est_cached_input_tokens = 0;
  std::int64_t est_output_tokens = 0;
  double est_cost_usd = 0;
  std::vector<std::string> rejected;       // "doc_id: reason" of documents not planned
  // The form extractor (ExtractorOptions::mode other than kModel).
  std::int64_t documents_rules = 0;          // documents it proposed facts for
  std::int64_t documents_model_skipped = 0;  // of those, covered completely: no model request
  double saved_usd = 0;                      // what those would have cost on the run's lane
  std::vector<std::string> form_errors;      // "doc_id: reason" of malformed forms
};

struct LaneModelUsage {
  std::string lane;
  std::string model;
  std::int64_t attempts = 0;
  std::int64_t input_tokens = 0;         // all input tokens, cached ones included
  std::int64_t cached_input_tokens = 0;  // read from the prompt cache
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
};

// The extract part of a run's reconciliation, computed from the ledger.
struct Reconciliation {
  std::string run_id;
  std::int64_t requests = 0;            // unique requests of the run
  std::int64_t deduplicated = 0;        // (document, chunk) pairs served by another's request
  std::int64_t reused = 0;              // completed before this run, not submitted
  std::int64_t submitted = 0;           // unique rows this run sent at least once
  std::int64_t completed = 0;           // of those, completed
  std::int64_t dead_lettered = 0;       // of those, dead-lettered
  std::int64_t in_flight = 0;           // of those, neither yet (resume later)
  std::int64_t attempts = 0;            // row attempts in all, retries included
  std::int64_t resubmitted = 0;         // attempts beyond a row's first
  std::map<std::string, std::int64_t> failed_by_outcome;  // failed attempts by outcome
  std::map<std::string, std::int64_t> dead_by_outcome;    // dead letters by last outcome
  std::vector<LaneModelUsage> usage;    // by lane and model
  // Attempts the provider answered with another model than the one requested (issue 20).
  struct ModelSwap {
    std::string requested, answered;
    std::int64_t attempts = 0;
  };
  std::vector<ModelSwap> model_swaps;
  double cost_usd = 0;
  std::int64_t failed_attempts = 0;     // attempts with an outcome other than completed
  // Documents of the run by the extractor of their requests ("model", "rules"); a document
  // both read and sent to a model counts under each.
  std::map<std::string, std::int64_t> documents_by_extractor;
  std::int64_t documents_model_skipped = 0;  // covered by the form extractor, not sent
  double saved_usd = 0;  // the estimated model cost of those, on the run's lane
  // submitted == completed + dead_lettered + in_flight, each row counted once.
  bool balanced() const { return submitted == completed + dead_lettered + in_flight; }
  // Every failed attempt was retried exactly once or ended its row in the dead letters
  // (holds when in_flight == 0).
  bool retries_balanced() const { return failed_attempts == resubmitted + dead_lettered; }
};

struct DeadLetter {
  std::string custom_id;
  std::string doc_id;
  std::string outcome;  // the last attempt's outcome
  std::string detail;
  int attempts = 0;
};

struct Progress {
  std::string phase;          // "planned" | "submitted" | "polling" | "collected" | "done"
  std::int64_t submitted = 0;  // row attempts sent so far in this command
  std::int64_t completed = 0;
  std::int64_t failed = 0;     // failed row attempts so far
  std::int64_t dead = 0;
  std::string detail;          // e.g. "batch_abc in_progress 120/500"
};
using ProgressFn = std::function<void(const Progress&)>;

// Runs the extract stage of one run against the ledger.
class Extractor {
 public:
  // `store`, `transport` and `clock` must outlive the Extractor.
  Extractor(registry::Store& store, HttpTransport& transport, Clock& clock,
            ExtractorOptions options);
  ~Extractor();

  // Plans `docs` (each alone) and compares with the ledger; writes nothing. Documents
  // that cannot be planned are listed in Plan::rejected. kInvalidInput for an unpriced
  // model on a paid lane (check_priced); kInternal on ledger errors.
  Result<Plan> plan(const std::vector<ingest::Document>& docs);

  // Plans, refuses an unpriced model on a paid lane and a budget that is not a finite
  // number >= 0, applies the budget gate (kInvalidInput "budget" before anything is sent),
  // records the run's requests, resumes the run's batches left open by an earlier
  // command, submits the rest through the retry ladder and records every attempt. Each
  // attempt of a request is sent once: a row is claimed in the ledger before it is sent,
  // and only this run's batches are advanced. `docs` may be empty on resume: texts then
  // come from the documents table. Returns the reconciliation.
  // Errors: kInvalidInput (budget, bad options), kUnavailable/kPermanent/kTransient when a
  // provider cannot be used (the ledger keeps every open batch; run again to resume);
  // kTransient (detail "held_by_other_run") when requests of this run wait in open
  // batches of another run, which must be resumed first.
  // A crash at any point leaves rows and remote objects recorded; the next run resumes
  // polling without submitting anything twice.
  Result<Reconciliation> run(const std::string& run_id, const std::vector<ingest::Document>& docs,
                             const ProgressFn& progress = {});

  // Cancels every open batch of `run_id` on the primary lane (POST .../cancel) and
  // records it; other runs' batches are left alone.
  Status cancel_open_batches(const std::string& run_id);

  const ExtractorOptions& options() const { return options_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ExtractorOptions options_;
};

// The reconciliation of `run_id` from the ledger.
Result<Reconciliation> reconcile(registry::Store& store, const std::string& run_id);
// The dead letters of `run_id` (all runs when empty).
Result<std::vector<DeadLetter>> dead_letters(registry::Store& store, const std::string& run_id);
// A batch submitted (or being submitted) and not collected yet, of any run.
struct OpenBatch {
  std::string run_id, lane, model;
  std::string remote_id;   // the provider's batch id ("" while it is being created)
  std::string state;       // writing|uploading|creating|<provider status>
  std::string created_at;  // RFC 3339, when fgraph recorded it
  std::int64_t rows = 0;
};
// Every open batch, oldest first: what the service watches and the metrics count.
Result<std::vector<OpenBatch>> open_batches(registry::Store& store);
// Dollars spent per UTC day, lane and model (every attempt of every run), for the web
// console's cost page.
struct DailyCost {
  std::string day;  // "YYYY-MM-DD" (UTC) of the attempts
  std::string lane, model;
  std::int64_t attempts = 0;
  double cost_usd = 0;
};
// Attempts recorded at or after `since` (RFC 3339 UTC), by day, lane and model.
Result<std::vector<DailyCost>> daily_costs(registry::Store& store, const std::string& since);
// The stored extraction JSON of a completed request; kNotFound otherwise.
Result<std::string> stored_result(registry::Store& store, std::string_view custom_id);

// ---------------------------------------------------------------------------------
// Spend (the attempts table: every attempt's tokens and dollars, retries and the live
// strike included).

// What one run spent on one lane and model, from its attempts recorded at or after a time.
struct RunSpend {
  std::string run_id, lane, model;
  std::int64_t attempts = 0;
  std::int64_t input_tokens = 0;         // all input tokens, cached ones included
  std::int64_t cached_input_tokens = 0;  // read from the prompt cache
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
};
// Spend per (run, lane, model) of the attempts recorded at or after `since` (RFC 3339,
// "" = all time), ordered by run, lane, model. kInternal on ledger errors.
Result<std::vector<RunSpend>> spend_by_run(registry::Store& store, std::string_view since);

// Dollars committed since `since`: recorded attempts, and the estimates of rows waiting
// in open batches (sent, or about to be, and not yet collected), which the caps count too.
struct SpendTotal {
  double recorded_usd = 0;
  double in_open_batches_usd = 0;
  double total() const { return recorded_usd + in_open_batches_usd; }
};
Result<SpendTotal> spent_since(registry::Store& store, std::string_view since);

// One request of a run with the document (chunk) it belongs to, for the verify stage.
struct RunRequest {
  std::string custom_id;
  std::string doc_id;
  int chunk_index = 0;
  std::int64_t char_start = 0;
  std::int64_t char_end = 0;
  std::string state;  // planned|submitted|completed|failed|dead
  // The provider batch whose row completed the request ("" for live lanes and until then).
  std::string batch_id;
  std::string extractor;  // "model" | "rules" (the form extractor; chunk_index -1)
};
Result<std::vector<RunRequest>> run_requests(registry::Store& store, const std::string& run_id);

// ---- Issue 20 (quality tracks, drift audit)
// A row a run submitted, in submission order (its first attempt; rows still in an open
// batch last, in batch order).
struct SubmittedRow {
  std::string custom_id, doc_id;
  std::string batch_id;        // provider batch that first carried it ("" for live lanes)
  std::string state;           // completed | dead | planned/submitted/failed (in flight)
  // Outcome of its first attempt that the model answered (completed, schema_invalid,
  // truncated, refused); "" when none was answered yet.
  std::string first_answer;
};
Result<std::vector<SubmittedRow>> submitted_rows(registry::Store& store, const std::string& run_id);
// The same for every run with attempts or batches recorded at or after `since` (RFC 3339),
// by run id, in one pass (`fgraph report`), with each run's recorded cost.
struct RunRows {
  std::vector<SubmittedRow> rows;
  double cost_usd = 0;
};
Result<std::map<std::string, RunRows>> submitted_rows_since(registry::Store& store,
                                                            const std::string& since);

// Sends each request once more through the live lane `options.lane` (openai-sync or
// anthropic-sync; no retry ladder, no reuse of completed rows), records each answer as a
// new attempt of its request under `run_id` (tokens and cost counted; the request's stored
// result is kept), and returns the answers in the order given (a row the lane could not
// send is absent). The budget gate applies to the estimate first (kInvalidInput "budget").
// Errors: as Extractor::run.
Result<std::vector<RowResult>> resend_live(registry::Store& store, HttpTransport& transport,
                                           Clock& clock, const ExtractorOptions& options,
                                           const std::string& run_id,
                                           const std::vector<ExtractionRequest>& requests);

// Classifies a chat completion body (OpenAI/local; HTTP 200) into outcome, content
// and usage. Exposed for tests and the replay lane.
RowResult classify_chat_completion(std::string_view body_json);
// Classifies an Anthropic Message (a succeeded result's `message`).
RowResult classify_anthropic_message(std::string_view message_json);

}  // namespace fgraph::extract
