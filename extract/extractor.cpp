// The extract coordinator: plan, budget gate, record, resume, retry ladder, reconcile.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "extract/internal/lane.h"

namespace fgraph::extract {

using internal::Lane;
using internal::LaneContext;
using internal::Ledger;
using internal::PendingRow;
using registry::SqlValue;

namespace internal {

Result<std::string> render_checked(const LaneContext& ctx, LaneKind lane, const PendingRow& row) {
  auto text = ctx.doc_text(row.request.doc_id);
  if (!text) return text.error();
  const ExtractionRequest& r = row.request;
  if (r.char_end > static_cast<std::int64_t>(text->size()) || r.char_start > r.char_end) {
    return make_error(ErrorCode::kInternal, "request " + r.custom_id + " lies outside document " + r.doc_id);
  }
  RenderOptions ro;
  ro.lane = lane;
  ro.local_format = ctx.options->local_format;
  ro.max_output_tokens = ctx.options->plan.max_output_tokens;
  ro.prompt = ctx.options->plan.prompt;
  std::string body = render_body(r, text->substr(r.char_start, r.char_end - r.char_start), ro);
  if (auto s = check_isolation(body, r, *text, ro); !s) return s.error();
  return body;
}

double row_cost(const ExtractorOptions* options, LaneKind lane, const std::string& model, const Usage& usage) {
  const PriceTable* prices = options != nullptr ? options->plan.prices : nullptr;
  auto price = (prices != nullptr ? *prices : PriceTable::bundled()).find(provider_of(lane), model);
  if (!price) return 0;
  return PriceTable::cost_usd(is_batch_lane(lane) ? price->batch : price->sync, usage);
}

void stamp_batch_row(const LaneContext& ctx, LaneKind lane, const RemoteObject& batch,
                     const PendingRow& pending, RowResult& row) {
  row.custom_id = pending.request.custom_id;
  row.lane = std::string(to_string(lane));
  row.model = batch.model;
  row.attempt = pending.attempt;
  row.batch_key = batch.key;
  row.cost_usd = row_cost(ctx.options, lane, batch.model, row.usage);
  if (ctx.counters != nullptr) {
    (row.outcome == Outcome::kCompleted ? ctx.counters->completed : ctx.counters->failed) += 1;
  }
}

Status read_result_lines(const std::string& path, const std::vector<PendingRow>& expected,
                         const std::function<RowResult(const nlohmann::json&)>& classify,
                         ResultLines& into) {
  std::unordered_set<std::string_view> wanted;
  for (const PendingRow& r : expected) wanted.insert(r.request.custom_id);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kInternal, "cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("custom_id") || !j["custom_id"].is_string()) {
      ++into.malformed;
      continue;
    }
    const std::string id = j["custom_id"];
    if (!wanted.count(id)) {
      ++into.unknown;
    } else if (into.rows.count(id)) {
      ++into.duplicate;
    } else {
      into.rows.emplace(id, classify(j));
    }
  }
  return ok();
}

Status record_collected(const LaneContext& ctx, LaneKind lane, RemoteObject& batch,
                        const std::vector<PendingRow>& rows, ResultLines& got, Outcome missing,
                        const std::string& missing_detail) {
  auto log = logger("extract");
  if (got.unknown + got.duplicate + got.malformed > 0) {
    log->warn("batch={} id={} ignored {} unknown, {} duplicate, {} malformed result rows",
              batch.key, batch.remote_id, got.unknown, got.duplicate, got.malformed);
  }
  std::vector<RowResult> out;
  out.reserve(rows.size());
  for (const PendingRow& p : rows) {
    RowResult r;
    if (auto g = got.rows.find(p.request.custom_id); g != got.rows.end()) {
      r = std::move(g->second);
    } else {
      r.outcome = missing;
      r.error_detail = missing_detail;
    }
    stamp_batch_row(ctx, lane, batch, p, r);
    out.push_back(std::move(r));
  }
  if (auto s = ctx.ledger->record_rows(batch.run_id, out, batch.key); !s) return s;
  batch.state = "collected";
  log->info("batch={} id={} collected {} rows ({} returned)", batch.key, batch.remote_id,
            out.size(), got.rows.size());
  report(ctx, "collected", batch.key);
  return ok();
}

void report(const LaneContext& ctx, const std::string& phase, const std::string& detail) {
  if (!ctx.progress || ctx.counters == nullptr) return;
  ctx.counters->phase = phase;
  ctx.counters->detail = detail;
  ctx.progress(*ctx.counters);
}

}  // namespace internal

namespace {

struct PlanDetail {
  Plan plan;
  std::vector<ExtractionRequest> all_chunks;  // every (doc, chunk), duplicates included
  std::vector<ExtractionRequest> to_record;   // unique requests not yet in the ledger, or dead to reset
  std::vector<std::string> reused_ids;
};

}  // namespace

struct Extractor::Impl {
  Impl(registry::Store& s, HttpTransport& t, Clock& c) : store(s), transport(t), clock(c), ledger(s, c) {}
  registry::Store& store;
  HttpTransport& transport;
  Clock& clock;
  Ledger ledger;
  std::unordered_map<std::string, const ingest::Document*> docs;
  std::unordered_map<std::string, std::string> loaded;  // texts read back from the ledger

  Result<std::string_view> doc_text(const std::string& doc_id) {
    if (auto d = docs.find(doc_id); d != docs.end()) return std::string_view(d->second->text);
    if (auto l = loaded.find(doc_id); l != loaded.end()) return std::string_view(l->second);
    auto rec = registry::get_document(store, doc_id);
    if (!rec) {
      return make_error(ErrorCode::kNotFound, "text of document " + doc_id +
                                                  " is neither given nor in the ledger");
    }
    auto [it, inserted] = loaded.emplace(doc_id, std::move(rec->text));
    return std::string_view(it->second);
  }
};

Extractor::Extractor(registry::Store& store, HttpTransport& transport, Clock& clock,
                     ExtractorOptions options)
    : impl_(std::make_unique<Impl>(store, transport, clock)), options_(std::move(options)) {
  options_.plan.lane = options_.lane;
  if (!options_.fallback_lane && options_.use_default_fallback &&
      options_.lane == LaneKind::kOpenAiBatch) {
    options_.fallback_lane = LaneKind::kOpenAiSync;
  }
}

Extractor::~Extractor() = default;

namespace {

// The form extractor's pass over a drop: what it records, and what goes on to the model.
struct FormPass {
  struct Rules {
    ExtractionRequest request;
    FormExtraction form;
    std::optional<double> skipped_usd;  // set when the model is not asked
  };
  std::vector<Rules> rules;
  std::vector<const ingest::Document*> to_model;
  std::vector<std::string> errors;
};

FormPass form_pass(const ExtractorOptions& o, const std::vector<ingest::Document>& docs) {
  FormPass p;
  const PromptBundle& prompt = o.plan.prompt != nullptr ? *o.plan.prompt : bundled_prompt();
  for (const ingest::Document& doc : docs) {
    if (o.mode == ExtractMode::kModel) {
      // A submission's header is metadata lines, not prose: only the rules read it.
      if (doc.doc_type != ingest::kSubmissionHeader) p.to_model.push_back(&doc);
      continue;
    }
    auto form = extract_form(doc);
    if (!form) p.errors.push_back(doc.doc_id + ": " + form.error().message);
    const bool complete = form && form->coverage == Coverage::kComplete;
    if (form && form->kind != FormKind::kNone) {
      FormPass::Rules r;
      r.request.custom_id = make_custom_id(doc.text, kFormsVersion, kFormsVersion, prompt.schema_version);
      r.request.doc_id = doc.doc_id;
      r.request.char_end = static_cast<std::int64_t>(doc.text.size());
      r.request.model = std::string(kFormsVersion);
      r.request.prompt_version = std::string(kFormsVersion);
      r.request.schema_version = prompt.schema_version;
      r.form = std::move(*form);
      if (complete) {
        double usd = 0;
        if (auto planned = plan_document(doc, o.plan)) {
          for (const auto& q : *planned) usd += q.est_cost_usd;
        }
        r.skipped_usd = usd;
      }
      p.rules.push_back(std::move(r));
    }
    if (o.mode == ExtractMode::kRulesAndModel && !complete) p.to_model.push_back(&doc);
  }
  return p;
}

void count_rules(const FormPass& pass, Plan& plan) {
  plan.form_errors = pass.errors;
  for (const auto& r : pass.rules) {
    ++plan.documents_rules;
    if (r.skipped_usd) {
      ++plan.documents_model_skipped;
      plan.saved_usd += *r.skipped_usd;
    }
  }
}

}  // namespace

static Result<PlanDetail> plan_detail(Ledger& ledger, const ExtractorOptions& options,
                                      const std::vector<const ingest::Document*>& docs) {
  PlanDetail d;
  Plan& p = d.plan;
  // Before anything is planned or sent: an unpriced model would estimate $0.
  if (auto s = check_priced(options.lane, options.plan.model, options.plan.prices); !s) return s.error();
  if (options.fallback_lane) {
    if (auto s = check_priced(*options.fallback_lane, options.plan.model, options.plan.prices); !s) {
      return s.error();
    }
  }
  std::unordered_set<std::string> seen;
  for (const ingest::Document* doc : docs) {
    ++p.documents;
    auto reqs = plan_document(*doc, options.plan);
    if (!reqs) {
      p.rejected.push_back(doc->doc_id + ": " + reqs.error().message);
      continue;
    }
    for (ExtractionRequest& r : *reqs) {
      ++p.requests_planned;
      d.all_chunks.push_back(r);
      if (!seen.insert(r.custom_id).second) {
        ++p.requests_deduplicated;
        p.lines.push_back({r, "duplicate"});
        continue;
      }
      std::string fate = "submit";
      auto existing = ledger.find_request(r.custom_id);
      if (!existing) return existing.error();
      bool submit = true;
      if (*existing) {
        const std::string& state = (*existing)->state;
        if (state == "completed") {
          ++p.requests_reused;
          d.reused_ids.push_back(r.custom_id);
          submit = false;
          fate = "reused";
        } else if (state == "submitted") {
          ++p.requests_in_flight;
          submit = false;
          fate = "in_flight";
        } else if (state == "dead" && !options.retry_dead_letters) {
          ++p.requests_dead;
          submit = false;
          fate = "dead";
        }
      }
      if (!*existing || ((*existing)->state == "dead" && options.retry_dead_letters)) {
        d.to_record.push_back(r);
      }
      if (submit) {
        ++p.requests_to_submit;
        p.est_input_tokens += r.est_input_tokens;
        p.est_cached_input_tokens += r.est_cached_input_tokens;
        p.est_output_tokens += r.est_output_tokens;
        p.est_cost_usd += r.est_cost_usd;
      }
      p.lines.push_back({r, std::move(fate)});
      p.requests.push_back(std::move(r));
    }
  }
  return d;
}

// The spend caps against the ledger: nothing is refused when nothing is to be sent (open
// batches are collected whatever the caps say: they are paid for already). `refused` says
// what the refusal left undone (the end of the message).
static Status check_spend_caps(registry::Store& store, Clock& clock, const ExtractorOptions& options,
                               const Plan& plan, std::string_view refused = "nothing was submitted") {
  const std::string now = format_utc(clock.now());  // "YYYY-MM-DDTHH:MM:SSZ"
  struct Cap {
    const char* setting;
    const char* window;
    const std::optional<double>& limit;
    std::string since;
  };
  for (const Cap& cap : {Cap{"budget.daily_usd", "today (UTC)", options.daily_cap_usd, now.substr(0, 10) + "T00:00:00Z"},
                         Cap{"budget.monthly_usd", "this month (UTC)", options.monthly_cap_usd,
                             now.substr(0, 8) + "01T00:00:00Z"}}) {
    if (!cap.limit) continue;
    if (!(std::isfinite(*cap.limit) && *cap.limit >= 0)) {
      return make_error(ErrorCode::kInvalidInput, std::string(cap.setting) + " must be a finite number of dollars >= 0");
    }
    auto spent = spent_since(store, cap.since);
    if (!spent) return spent.error();
    if (spent->total() + plan.est_cost_usd <= *cap.limit) continue;
    const double left = std::max(0.0, *cap.limit - spent->total());
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "spend cap %s of $%.4f: $%.4f spent %s ($%.4f recorded, $%.4f in open batches) + "
                  "$%.4f estimated for %lld requests would exceed it; $%.4f left; ",
                  cap.setting, *cap.limit, spent->total(), cap.window, spent->recorded_usd,
                  spent->in_open_batches_usd, plan.est_cost_usd, static_cast<long long>(plan.requests_to_submit),
                  left);
    return make_error(ErrorCode::kInvalidInput, buf + std::string(refused), "spend_cap");
  }
  return ok();
}

Result<Plan> Extractor::plan(const std::vector<ingest::Document>& docs) {
  FormPass pass = form_pass(options_, docs);
  auto d = plan_detail(impl_->ledger, options_, pass.to_model);
  if (!d) return d.error();
  d->plan.documents = static_cast<std::int64_t>(docs.size());
  count_rules(pass, d->plan);
  return std::move(d->plan);
}

Result<Reconciliation> Extractor::run(const std::string& run_id,
                                      const std::vector<ingest::Document>& docs,
                                      const ProgressFn& progress) {
  auto log = logger("extract");
  if (run_id.empty()) return make_error(ErrorCode::kInvalidInput, "run id is empty");
  if (options_.primary_attempts < 1) return make_error(ErrorCode::kInvalidInput, "primary_attempts must be >= 1");
  // NaN compares false with every estimate and would turn the gate off.
  if (options_.budget_usd && !(std::isfinite(*options_.budget_usd) && *options_.budget_usd >= 0)) {
    return make_error(ErrorCode::kInvalidInput, "the budget must be a finite number of dollars >= 0");
  }
  auto needs_key = [&](LaneKind k) -> Status {
    if ((k == LaneKind::kOpenAiBatch || k == LaneKind::kOpenAiSync) && options_.providers.openai_api_key.empty()) {
      return make_error(ErrorCode::kInvalidInput, "OPENAI_API_KEY is not set (lane " + std::string(to_string(k)) + ")");
    }
    if (provider_of(k) == "anthropic" && options_.providers.anthropic_api_key.empty()) {
      return make_error(ErrorCode::kInvalidInput, "ANTHROPIC_API_KEY is not set");
    }
    if (is_batch_lane(k) && options_.work_dir.empty()) {
      return make_error(ErrorCode::kInvalidInput, "a batch lane needs a work directory");
    }
    return ok();
  };
  if (auto s = needs_key(options_.lane); !s) return s.error();
  if (options_.fallback_lane) {
    if (auto s = needs_key(*options_.fallback_lane); !s) return s.error();
  }

  impl_->docs.clear();
  for (const ingest::Document& d : docs) impl_->docs.emplace(d.doc_id, &d);

  FormPass pass = form_pass(options_, docs);
  auto detail = plan_detail(impl_->ledger, options_, pass.to_model);
  if (!detail) return detail.error();
  const Plan& plan = detail->plan;
  for (const std::string& e : pass.errors) log->warn("run={} form not read: {}", run_id, e);
  // The form extractor's facts cost nothing and are recorded before anything is sent.
  for (const auto& r : pass.rules) {
    if (auto s = impl_->ledger.record_rules(run_id, r.request, r.form.output_json,
                                            std::string(to_string(r.form.kind)), r.skipped_usd);
        !s) {
      return s.error();
    }
  }
  if (options_.budget_usd && plan.est_cost_usd > *options_.budget_usd) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "estimated cost $%.4f of %lld requests exceeds the budget of $%.4f; nothing was submitted",
                  plan.est_cost_usd, static_cast<long long>(plan.requests_to_submit), *options_.budget_usd);
    return make_error(ErrorCode::kInvalidInput, buf, "budget");
  }
  if (plan.requests_to_submit > 0) {
    if (auto s = check_spend_caps(impl_->store, impl_->clock, options_, plan); !s) return s.error();
  }
  for (const std::string& r : plan.rejected) log->warn("run={} not planned: {}", run_id, r);
  if (auto s = impl_->ledger.record_plan(run_id, detail->to_record, detail->all_chunks,
                                         detail->reused_ids, options_.retry_dead_letters);
      !s) {
    return s.error();
  }

  Progress counters;
  LaneContext ctx;
  ctx.ledger = &impl_->ledger;
  ctx.transport = &impl_->transport;
  ctx.clock = &impl_->clock;
  ctx.options = &options_;
  ctx.doc_text = [this](const std::string& id) { return impl_->doc_text(id); };
  ctx.run_id = run_id;
  ctx.progress = progress;
  ctx.counters = &counters;
  internal::report(ctx, "planned", std::to_string(plan.requests_to_submit) + " to submit");

  auto make_lane = [&](LaneKind k) -> std::unique_ptr<Lane> {
    switch (k) {
      case LaneKind::kOpenAiBatch: return internal::make_openai_batch_lane(ctx);
      case LaneKind::kAnthropicBatch: return internal::make_anthropic_batch_lane(ctx);
      case LaneKind::kOpenAiSync:
      case LaneKind::kAnthropicSync:
      case LaneKind::kLocal: return internal::make_sync_lane(k, ctx);
    }
    return nullptr;
  };
  std::unique_ptr<Lane> primary = make_lane(options_.lane);
  std::unique_ptr<Lane> fallback = options_.fallback_lane ? make_lane(*options_.fallback_lane) : nullptr;

  // Batches left open by an earlier command first: their rows are not submitted again.
  if (auto s = primary->resume_open(); !s) return s.error();

  // The ladder counts steps, not attempt numbers: a dead letter sent again goes on
  // numbering its attempts (unique per request) and climbs the ladder from its foot.
  const int max_attempts = options_.primary_attempts + (fallback ? 1 : 0);
  for (int round = 0; round <= max_attempts + 1; ++round) {
    if (options_.single_pass && round == 1) break;
    auto pending = impl_->ledger.pending(run_id);
    if (!pending) return pending.error();
    if (pending->empty()) break;
    std::vector<PendingRow> on_primary, on_fallback;
    for (PendingRow& p : *pending) {
      if (p.step > max_attempts) {
        if (auto s = impl_->ledger.dead_letter(run_id, p); !s) return s.error();
        ++counters.dead;
        log->warn("run={} dead letter {} doc={} after {} attempts: {} {}", run_id, p.request.custom_id,
                  p.request.doc_id, p.attempt - 1, p.last_outcome, p.last_error);
      } else if (p.step <= options_.primary_attempts) {
        on_primary.push_back(std::move(p));
      } else {
        on_fallback.push_back(std::move(p));
      }
    }
    // A retry round spends too: the caps see what it would send again, a fallback at its
    // own lane's price (a live strike costs about twice a batch row). Refused, the rows
    // stay pending, neither sent nor dead-lettered: a resume sends them once a cap allows.
    if (round > 0 && (!on_primary.empty() || !on_fallback.empty())) {
      Plan again;
      for (const PendingRow& p : on_primary) again.est_cost_usd += p.request.est_cost_usd;
      for (const PendingRow& p : on_fallback) {
        const ExtractionRequest& r = p.request;
        again.est_cost_usd += internal::row_cost(&options_, *options_.fallback_lane, r.model,
                                                 Usage{.input_tokens = r.est_input_tokens,
                                                       .cached_input_tokens = r.est_cached_input_tokens,
                                                       .output_tokens = r.est_output_tokens});
      }
      again.requests_to_submit = static_cast<std::int64_t>(on_primary.size() + on_fallback.size());
      if (auto s = check_spend_caps(impl_->store, impl_->clock, options_, again,
                                    "the failed rows were not sent again (they stay pending: "
                                    "a resume sends them once the cap allows)");
          !s) {
        return s.error();
      }
    }
    if (!on_primary.empty()) {
      if (auto s = primary->submit(on_primary); !s) return s.error();
    }
    if (!on_fallback.empty()) {
      if (auto s = fallback->submit(on_fallback); !s) return s.error();
    }
  }
  // Rows this run planned while another run had them in an open batch are that run's
  // to collect (a lane never advances another run's batches): this run waits for it.
  auto held = impl_->ledger.held_by_other_runs(run_id);
  if (!held) return held.error();
  if (!held->empty()) {
    std::string which;
    for (const auto& [other, n] : *held) {
      which += (which.empty() ? "" : ", ") + std::to_string(n) + " in run " + other;
    }
    return make_error(ErrorCode::kTransient,
                      "requests of run " + run_id + " wait in open batches of other runs (" + which +
                          "): finish those with `fgraph run --resume " + held->front().first +
                          "`, then `fgraph run --resume " + run_id + "`",
                      "held_by_other_run");
  }
  internal::report(ctx, "done");
  return reconcile(impl_->store, run_id);
}

Status Extractor::cancel_open_batches(const std::string& run_id) {
  Progress counters;
  LaneContext ctx;
  ctx.ledger = &impl_->ledger;
  ctx.transport = &impl_->transport;
  ctx.clock = &impl_->clock;
  ctx.options = &options_;
  ctx.doc_text = [this](const std::string& id) { return impl_->doc_text(id); };
  ctx.run_id = run_id;
  ctx.counters = &counters;
  if (options_.lane == LaneKind::kOpenAiBatch) return internal::make_openai_batch_lane(ctx)->cancel_open();
  if (options_.lane == LaneKind::kAnthropicBatch) return internal::make_anthropic_batch_lane(ctx)->cancel_open();
  return ok();
}

Result<std::vector<RowResult>> resend_live(registry::Store& store, HttpTransport& transport,
                                           Clock& clock, const ExtractorOptions& options,
                                           const std::string& run_id,
                                           const std::vector<ExtractionRequest>& requests) {
  if (is_batch_lane(options.lane)) {
    return make_error(ErrorCode::kInvalidInput, "resend_live needs a live lane, not " +
                                                    std::string(to_string(options.lane)));
  }
  if (auto s = check_priced(options.lane, options.plan.model, options.plan.prices); !s) return s.error();
  const std::string& key = provider_of(options.lane) == "anthropic" ? options.providers.anthropic_api_key
                                                                     : options.providers.openai_api_key;
  if (options.lane != LaneKind::kLocal && key.empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      "no API key for lane " + std::string(to_string(options.lane)));
  }
  double estimate = 0;
  for (const ExtractionRequest& r : requests) estimate += r.est_cost_usd;
  if (options.budget_usd && estimate > *options.budget_usd) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "estimated cost $%.4f of %zu live requests exceeds the budget of $%.4f; nothing was sent",
                  estimate, requests.size(), *options.budget_usd);
    return make_error(ErrorCode::kInvalidInput, buf, "budget");
  }
  Ledger ledger(store, clock);
  std::vector<PendingRow> rows;
  for (const ExtractionRequest& r : requests) {
    auto found = ledger.find_request(r.custom_id);
    if (!found) return found.error();
    if (!*found) return make_error(ErrorCode::kNotFound, "request " + r.custom_id + " is not in the ledger");
    PendingRow p;
    p.request = r;
    p.attempt = (*found)->attempts + 1;  // attempt numbers only grow
    rows.push_back(std::move(p));
  }
  std::unordered_map<std::string, std::string> texts;
  Progress counters;
  std::vector<RowResult> answers;
  LaneContext ctx;
  ctx.ledger = &ledger;
  ctx.transport = &transport;
  ctx.clock = &clock;
  ctx.options = &options;
  ctx.doc_text = [&](const std::string& id) -> Result<std::string_view> {
    if (auto t = texts.find(id); t != texts.end()) return std::string_view(t->second);
    auto rec = registry::get_document(store, id);
    if (!rec) return rec.error();
    return std::string_view(texts.emplace(id, std::move(rec->text)).first->second);
  };
  ctx.run_id = run_id;
  ctx.counters = &counters;
  ctx.answers = &answers;
  if (auto s = internal::make_sync_lane(options.lane, ctx)->submit(rows); !s) return s.error();
  return answers;
}

}  // namespace fgraph::extract
