// The lane seam inside extract: one interface, one implementation per provider kind.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "extract/internal/http_client.h"
#include "extract/internal/ledger.h"

namespace fgraph::extract::internal {

// Returns the text of a document by id (kNotFound when unknown).
using DocTextFn = std::function<Result<std::string_view>(const std::string& doc_id)>;

struct LaneContext {
  Ledger* ledger = nullptr;
  HttpTransport* transport = nullptr;
  Clock* clock = nullptr;
  const ExtractorOptions* options = nullptr;
  DocTextFn doc_text;
  std::string run_id;
  ProgressFn progress;      // may be empty
  Progress* counters = nullptr;  // running totals, updated by lanes
  // Live lanes: where each recorded answer is also handed back (resend_live); may be null.
  std::vector<RowResult>* answers = nullptr;
};

class Lane {
 public:
  virtual ~Lane() = default;
  virtual LaneKind kind() const = 0;
  // Sends `rows` and records exactly one outcome per row in the ledger (missing rows
  // become transient). A provider that cannot be used returns an Error; for batch lanes
  // the batches created so far stay recorded and resume_open() picks them up.
  virtual Status submit(const std::vector<PendingRow>& rows) = 0;
  // Batch lanes: finishes every batch of this run (ctx.run_id) on this lane left open by
  // an earlier command (re-finding a batch whose creation was not confirmed by its
  // metadata key). Other runs' batches are never touched (Ledger::open_remotes).
  virtual Status resume_open() { return ok(); }
  // Cancels this run's open batches on this lane.
  virtual Status cancel_open() { return ok(); }
};

std::unique_ptr<Lane> make_openai_batch_lane(LaneContext ctx);
std::unique_ptr<Lane> make_anthropic_batch_lane(LaneContext ctx);
// openai-sync, local (chat completions) and anthropic-sync (Messages) share one implementation.
std::unique_ptr<Lane> make_sync_lane(LaneKind kind, LaneContext ctx);

// Rendered body of a pending row with the isolation check applied. kInternal when the
// check fails, kNotFound when the document text is unavailable.
Result<std::string> render_checked(const LaneContext& ctx, LaneKind lane, const PendingRow& row);

// Cost of a usage at the lane's tier, priced by options->plan.prices (else, or without
// options, the bundled table). Also prices a retry round's estimate (Extractor::run).
double row_cost(const ExtractorOptions* options, LaneKind lane, const std::string& model, const Usage& usage);

// Fills in what a batch lane knows about a collected row (its request, attempt, batch,
// lane, model and cost) and counts its outcome.
void stamp_batch_row(const LaneContext& ctx, LaneKind lane, const RemoteObject& batch,
                     const PendingRow& pending, RowResult& row);

// The rows of a provider's results file (JSONL, one object per row keyed by "custom_id"):
// each row the batch expects, once; every other line is counted and ignored.
struct ResultLines {
  std::unordered_map<std::string, RowResult> rows;
  std::size_t unknown = 0, duplicate = 0, malformed = 0;
};
// Reads one downloaded results file into `into` (several files may feed one ResultLines);
// `classify` turns a row object into its result.
Status read_result_lines(const std::string& path, const std::vector<PendingRow>& expected,
                         const std::function<RowResult(const nlohmann::json&)>& classify,
                         ResultLines& into);
// Finishes a collected batch: every expected row takes its returned result, or `missing`
// with `missing_detail` when the provider returned none; each is stamped (stamp_batch_row)
// and all are recorded in one ledger write; the batch becomes `collected`.
Status record_collected(const LaneContext& ctx, LaneKind lane, RemoteObject& batch,
                        const std::vector<PendingRow>& rows, ResultLines& got, Outcome missing,
                        const std::string& missing_detail);

// Notifies progress (if any).
void report(const LaneContext& ctx, const std::string& phase, const std::string& detail = {});

}  // namespace fgraph::extract::internal
