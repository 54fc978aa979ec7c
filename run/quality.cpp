// The run stage's quality gates (issue 20): the failure policy and `fgraph retry`, the
// canary before a batch lane's bulk, the completion and quality tracks, `fgraph report`
// and the drift audit. Everything here reads the other stages through their typed APIs
// (extract::submitted_rows, resend_live, verify::row_tallies, Verifier).
#include <algorithm>
#include <cmath>
#include <set>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using nlohmann::json;
using registry::int_of;
using registry::SqlValue;
using registry::text_of;

namespace {

double real_of(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return 0;
}

std::string points(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100);
  return buf;
}

// "schema-valid 62.0% < 95.0% (33.0 points short)"
std::string shortfall(const char* what, double got, double want) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %.1f%% < %.1f%% (%.1f points short)", what, got * 100, want * 100,
                (want - got) * 100);
  return buf;
}

// The number of a proposed fact that was dropped (the whole output's schema drop is a row's
// fate, not a fact).
std::int64_t dropped_facts(const verify::RowVerdict& v) {
  return static_cast<std::int64_t>(std::count_if(v.dropped.begin(), v.dropped.end(), [](const auto& d) {
    return d.kind != verify::FactKind::kOutput;
  }));
}

// The request id of a verdict row key ("custom_id@doc_id" when one chunk served two documents).
std::string request_of(const std::string& row_key) { return row_key.substr(0, row_key.find('@')); }

}  // namespace

std::string_view to_string(FailurePolicy policy) {
  return policy == FailurePolicy::kHalt ? "halt" : "continue";
}

std::optional<FailurePolicy> parse_failure_policy(std::string_view text) {
  if (text == "continue") return FailurePolicy::kContinue;
  if (text == "halt") return FailurePolicy::kHalt;
  return std::nullopt;
}

// ------------------------------------------------------------------ failure policy

Result<FailurePolicy> Coordinator::Impl::failure_policy(const std::string& run_id,
                                                        const RunOptions& options) {
  auto recorded = recorded_options(run_id);
  if (!recorded) return recorded.error();
  json& opts = *recorded;
  if (options.on_failure) {
    const std::string name(to_string(*options.on_failure));
    if (opts.value("on_failure", "") != name) {
      opts["on_failure"] = name;
      if (auto s = store.execute("UPDATE runs SET options_json = ? WHERE run_id = ?",
                                 {dump_json(opts), run_id});
          !s) {
        return s.error();
      }
    }
    return *options.on_failure;
  }
  return parse_failure_policy(opts.value("on_failure", "continue")).value_or(FailurePolicy::kContinue);
}

Result<RunReport> Coordinator::retry(const std::string& run_id, const RunOptions& options) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  if (run->state != RunState::kHalted && run->state != RunState::kFinished) {
    return make_error(ErrorCode::kInvalidInput,
                      "run " + run_id + " is " + std::string(to_string(run->state)) +
                          ": only a halted or finished run is retried (an open run: `fgraph run --resume " +
                          run_id + "`)");
  }
  auto dead = extract::dead_letters(m.store, run_id);
  if (!dead) return dead.error();
  if (dead->empty()) {
    return make_error(ErrorCode::kInvalidInput, "run " + run_id + " has no dead letters to retry");
  }
  if (run->state == RunState::kFinished) {
    // Their documents are extracted, verified, resolved and staged again; the rest stays.
    std::set<std::string> docs;
    auto requests = extract::run_requests(m.store, run_id);
    if (!requests) return requests.error();
    std::set<std::string> dead_ids;
    for (const auto& d : *dead) dead_ids.insert(d.custom_id);
    for (const auto& r : *requests) {
      if (dead_ids.count(r.custom_id)) docs.insert(r.doc_id);
    }
    Status reset = m.store.transaction([&]() -> Status {
      for (const auto& doc : docs) {
        if (auto s = m.store.execute("DELETE FROM run_entities WHERE run_id = ? AND doc_id = ?", {run_id, doc});
            !s) {
          return s;
        }
        if (auto s = m.set_doc_state(run_id, doc, DocState::kParsed); !s) return s;
      }
      return m.set_run_state(run_id, RunState::kStarted, false);
    });
    if (!reset) return reset.error();
  }
  logger("run")->info("run={} retrying {} dead letters", run_id, dead->size());
  RunOptions o = options;
  o.drop.clear();
  o.resume_run_id = run_id;
  o.retry_dead_letters = true;
  return this->run(o);
}

// ------------------------------------------------------------------ the canary

Result<std::optional<CanaryScores>> Coordinator::Impl::run_canary(const RunRecord& run,
                                                                  const RunDocuments& docs,
                                                                  extract::ExtractorOptions& bulk) {
  if (!extract::is_batch_lane(bulk.lane)) return std::optional<CanaryScores>();
  auto recorded = recorded_options(run.run_id);
  if (!recorded) return recorded.error();
  const double fraction = recorded->value("canary_fraction", 0.0);
  if (!(fraction > 0)) return std::optional<CanaryScores>();
  RunReport seen;
  if (auto s = fill_quality_gates(run.run_id, seen); !s) return s.error();
  if (seen.canary) {
    if (seen.canary->passed) return std::optional<CanaryScores>();
    return seen.canary;
  }
  const CanaryOptions& gate = settings.canary;

  // A deterministic sample: document ids are content hashes, so their order is a fixed
  // shuffle of the drop.
  std::vector<const ingest::Document*> all;
  for (const auto& [doc, state] : docs) {
    if (state == DocState::kParsed) all.push_back(&doc);
  }
  std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->doc_id < b->doc_id; });
  const std::size_t total = all.size();
  std::size_t n = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(total)));
  n = std::min(total, std::max(n, static_cast<std::size_t>(std::max(0, gate.min_documents))));
  std::vector<ingest::Document> sample;
  for (std::size_t i = 0; i < n; ++i) sample.push_back(*all[i]);

  extract::ExtractorOptions eo = bulk;
  eo.lane = extract::live_lane_of(bulk.lane);
  eo.plan.lane = eo.lane;
  eo.fallback_lane.reset();
  eo.use_default_fallback = false;
  eo.single_pass = true;  // a failed row stays pending for the bulk's ladder
  auto before = extract::reconcile(store, run.run_id);
  if (!before) return before.error();
  const auto t0 = clock.steady_now();
  progress.update("canary", 0, static_cast<long>(n), std::string(extract::to_string(eo.lane)));
  {
    extract::Extractor extractor(store, transport, clock, eo);
    auto rec = extractor.run(run.run_id, sample, [&](const extract::Progress& p) {
      progress.update("canary", p.completed + p.failed, p.submitted, p.phase);
    });
    if (!rec) return rec.error();
  }

  // Scores: verified like the bulk will be (leaks against every document of the run).
  auto verifier = verify::Verifier::create(extract::bundled_prompt().schema_json);
  if (!verifier) return verifier.error();
  std::map<std::string, verify::PreparedDocument> prepared;
  verify::LeakIndex leaks;
  for (const auto& d : sample) prepared.emplace(d.doc_id, verify::prepare_document(d));
  for (const auto& [doc, state] : docs) {
    if (auto p = prepared.find(doc.doc_id); p != prepared.end()) {
      leaks.add(p->second);
    } else {
      leaks.add(doc.doc_id, doc.text);
    }
  }
  // The sample's requests: those this run sent, and those completed before it (reused at
  // no cost: their stored answers are what the run will use, so they are scored too).
  auto submitted = extract::submitted_rows(store, run.run_id);
  if (!submitted) return submitted.error();
  std::map<std::string, std::string> first_answer;
  for (const auto& row : *submitted) first_answer[row.custom_id] = row.first_answer;
  auto requests = extract::run_requests(store, run.run_id);
  if (!requests) return requests.error();
  CanaryScores c;
  c.documents = static_cast<std::int64_t>(n);
  std::set<std::string> scored;
  for (const auto& req : *requests) {
    auto doc = prepared.find(req.doc_id);
    if (doc == prepared.end() || !scored.insert(req.custom_id).second) continue;
    ++c.rows;
    auto sent = first_answer.find(req.custom_id);
    const std::string answer = sent != first_answer.end() ? sent->second
                               : req.state == "completed" ? "completed"
                                                          : "";
    if (answer.empty()) continue;
    ++c.answered;
    if (req.state != "completed") continue;
    auto content = extract::stored_result(store, req.custom_id);
    if (!content) return content.error();
    verify::RowVerdict v = verifier->verify(doc->second, *content, &leaks);
    if (answer == "completed" && v.schema_ok) ++c.schema_valid;
    c.facts_accepted += static_cast<std::int64_t>(v.accepted_count());
    c.facts_proposed += static_cast<std::int64_t>(v.accepted_count()) + dropped_facts(v);
    c.leak_alarms += static_cast<std::int64_t>(v.leaks.size());
  }
  c.schema_valid_rate = c.answered > 0 ? static_cast<double>(c.schema_valid) / c.answered : 0;
  c.grounded_rate = c.facts_proposed > 0 ? static_cast<double>(c.facts_accepted) / c.facts_proposed : 0;
  // A sample the model has nothing to do for (forms read by rules alone) is not a failure.
  if (c.rows > 0 && c.answered == 0) c.failures.push_back("no canary row was answered");
  if (c.answered > 0 && c.schema_valid_rate < gate.min_schema_valid) {
    c.failures.push_back(shortfall("schema-valid", c.schema_valid_rate, gate.min_schema_valid));
  }
  if (c.answered > 0 && c.grounded_rate < gate.min_grounded) {
    c.failures.push_back(shortfall("grounded", c.grounded_rate, gate.min_grounded));
  }
  if (c.leak_alarms > gate.max_leak_alarms) {
    c.failures.push_back("leak alarms " + std::to_string(c.leak_alarms) + " > " +
                         std::to_string(gate.max_leak_alarms) + " (" +
                         std::to_string(c.leak_alarms - gate.max_leak_alarms) + " too many)");
  }
  c.passed = c.failures.empty();
  auto after = extract::reconcile(store, run.run_id);
  if (!after) return after.error();
  c.cost_usd = after->cost_usd - before->cost_usd;
  c.seconds = std::chrono::duration<double>(clock.steady_now() - t0).count();
  if (auto s = store.execute(
          "INSERT OR REPLACE INTO run_canaries(run_id, live_lane, documents, rows, answered, schema_valid,"
          " facts_proposed, facts_accepted, leak_alarms, schema_valid_rate, grounded_rate, passed,"
          " failures_json, cost_usd, seconds, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
          {run.run_id, std::string(extract::to_string(eo.lane)), c.documents, c.rows, c.answered,
           c.schema_valid, c.facts_proposed, c.facts_accepted, c.leak_alarms, c.schema_valid_rate,
           c.grounded_rate, std::int64_t{c.passed ? 1 : 0}, dump_json(c.failures), c.cost_usd,
           c.seconds, now_utc(clock)});
      !s) {
    return s.error();
  }
  logger("run")->info("run={} canary {}: {} documents, {} rows, schema-valid {}, grounded {}, {} leak alarms, ${:.4f}",
                      run.run_id, c.passed ? "passed" : "FAILED", c.documents, c.rows,
                      points(c.schema_valid_rate), points(c.grounded_rate), c.leak_alarms, c.cost_usd);
  if (bulk.budget_usd) bulk.budget_usd = std::max(0.0, *bulk.budget_usd - c.cost_usd);
  return std::optional<CanaryScores>(c);
}

Status Coordinator::Impl::fill_quality_gates(const std::string& run_id, RunReport& r) {
  auto opts = recorded_options(run_id);
  if (!opts) return opts.error();
  r.on_failure = opts->value("on_failure", "continue");
  auto rows = store.query(
      "SELECT documents, rows, answered, schema_valid, facts_proposed, facts_accepted, leak_alarms,"
      " schema_valid_rate, grounded_rate, passed, failures_json, cost_usd, seconds"
      " FROM run_canaries WHERE run_id = ?",
      {run_id});
  if (!rows) return rows.error();
  r.canary.reset();
  if (rows->empty()) return ok();
  const auto& row = (*rows)[0];
  CanaryScores c;
  c.documents = int_of(row[0]);
  c.rows = int_of(row[1]);
  c.answered = int_of(row[2]);
  c.schema_valid = int_of(row[3]);
  c.facts_proposed = int_of(row[4]);
  c.facts_accepted = int_of(row[5]);
  c.leak_alarms = int_of(row[6]);
  c.schema_valid_rate = real_of(row[7]);
  c.grounded_rate = real_of(row[8]);
  c.passed = int_of(row[9]) != 0;
  json failures = json::parse(text_of(row[10]), nullptr, false);
  if (failures.is_array()) {
    for (const auto& f : failures) {
      if (f.is_string()) c.failures.push_back(f.get<std::string>());
    }
  }
  c.cost_usd = real_of(row[11]);
  c.seconds = real_of(row[12]);
  r.canary = c;
  return ok();
}

// ------------------------------------------------------------------ tracks and report

namespace {

// Adds a run's rows to its tracks: completion by the row's state, quality by its first
// answer and its verdict (verify::row_tallies, a shared chunk's rows summed by request).
class TrackAdder {
 public:
  explicit TrackAdder(const std::map<std::string, verify::RowTally>& by_key) {
    for (const auto& [key, t] : by_key) {
      verify::RowTally& into = tallies_[request_of(key)];
      into.schema_ok = into.schema_ok && t.schema_ok;
      into.accepted += t.accepted;
      into.dropped += t.dropped;
      into.leak_alarms += t.leak_alarms;
      for (const auto& [reason, n] : t.dropped_by_reason) into.dropped_by_reason[reason] += n;
    }
  }

  // `t` must stay where it is while rows are added (its documents are counted by address).
  void add(Track& t, const extract::SubmittedRow& row) {
    ++t.completion.rows;
    if (row.state == "completed") {
      ++t.completion.completed;
    } else if (row.state == "dead") {
      ++t.completion.dead_lettered;
    } else {
      ++t.completion.in_flight;
    }
    if (row.first_answer.empty()) return;
    Quality& q = t.quality;
    ++q.answered;
    auto tally = tallies_.find(row.custom_id);
    const bool schema_ok = tally == tallies_.end() || tally->second.schema_ok;
    if (row.first_answer == "completed" && schema_ok) ++q.schema_valid;
    if (row.state != "completed") return;
    ++q.completed;
    auto& docs = documents_[&t];
    docs.insert(row.doc_id);
    q.documents = static_cast<std::int64_t>(docs.size());
    if (tally == tallies_.end()) return;
    q.accepted += tally->second.accepted;
    q.proposed += tally->second.accepted + tally->second.dropped;
    q.leak_alarms += tally->second.leak_alarms;
    for (const auto& [reason, n] : tally->second.dropped_by_reason) q.dropped_by_reason[reason] += n;
  }

 private:
  std::map<std::string, verify::RowTally> tallies_;
  std::map<const Track*, std::set<std::string>> documents_;
};

}  // namespace

Result<QualityTracks> Coordinator::tracks(const std::string& run_id, std::int64_t segment_rows) {
  Impl& m = *impl_;
  const std::size_t per = static_cast<std::size_t>(std::max<std::int64_t>(1, segment_rows));
  if (auto run = m.load_run(run_id); !run) return run.error();
  auto rows = extract::submitted_rows(m.store, run_id);
  if (!rows) return rows.error();
  auto tallies = verify::row_tallies(m.store, run_id);
  if (!tallies) return tallies.error();
  TrackAdder adder(*tallies);

  QualityTracks out;
  out.run_id = run_id;
  out.run.label = "run";
  // Every track exists before the first row is added.
  auto track = [](std::string label) {
    Track t;
    t.label = std::move(label);
    return t;
  };
  std::map<std::string, std::size_t> batch_index;
  auto batch_of = [](const extract::SubmittedRow& row) { return row.batch_id.empty() ? "live" : row.batch_id; };
  for (const auto& row : *rows) {
    if (batch_index.emplace(batch_of(row), batch_index.size()).second) out.batches.push_back(track(batch_of(row)));
  }
  for (std::size_t s = 0; s * per < rows->size(); ++s) {
    out.segments.push_back(
        track("rows " + std::to_string(s * per + 1) + "-" + std::to_string(std::min(rows->size(), (s + 1) * per))));
  }
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const auto& row = (*rows)[i];
    adder.add(out.run, row);
    adder.add(out.batches[batch_index.at(batch_of(row))], row);
    adder.add(out.segments[i / per], row);
  }
  if (out.segments.empty()) return out;
  const Quality& first = out.segments.front().quality;
  for (std::size_t s = 1; s < out.segments.size(); ++s) {
    const Quality& q = out.segments[s].quality;
    std::string& flag = out.segments[s].flag;
    auto compare = [&](const char* what, double base, double now, bool have) {
      if (!have || (base - now) * 100 <= QualityTracks::kFlagPoints) return;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s%s %.1f%% against %.1f%% in the first segment (%.1f points)",
                    flag.empty() ? "" : "; ", what, now * 100, base * 100, (now - base) * 100);
      flag += buf;
    };
    compare("schema-valid", first.schema_valid_rate(), q.schema_valid_rate(), first.answered > 0 && q.answered > 0);
    compare("grounded", first.grounded_rate(), q.grounded_rate(), first.proposed > 0 && q.proposed > 0);
  }
  return out;
}

// A few queries for all runs at once: a report over a long ledger stays fast.
Result<std::vector<QualityLine>> Coordinator::quality_report(const std::string& since) {
  Impl& m = *impl_;
  auto runs = m.store.query(
      "SELECT r.run_id, r.lane, r.model, r.state, r.started_at,"
      " (SELECT count(*) FROM run_documents d WHERE d.run_id = r.run_id AND d.state = ?2),"
      " (SELECT passed FROM run_canaries c WHERE c.run_id = r.run_id)"
      " FROM runs r WHERE r.started_at >= ?1 ORDER BY r.started_at, r.rowid",
      {since, std::string(to_string(DocState::kStaged))});
  if (!runs) return runs.error();
  auto rows = extract::submitted_rows_since(m.store, since);
  if (!rows) return rows.error();
  auto tallies = verify::run_tallies(m.store);
  if (!tallies) return tallies.error();
  std::vector<QualityLine> out;
  out.reserve(runs->size());
  for (const auto& row : *runs) {
    QualityLine l;
    l.run_id = text_of(row[0]);
    l.lane = text_of(row[1]);
    l.model = text_of(row[2]);
    l.state = text_of(row[3]);
    l.started_at = text_of(row[4]);
    l.documents_staged = int_of(row[5]);
    if (!std::holds_alternative<std::monostate>(row[6])) l.canary_passed = int_of(row[6]) != 0;
    // The run-level tracks, from per-run sums (the facts are all of the run's verdicts).
    const verify::RunTally& v = (*tallies)[l.run_id];
    std::set<std::string> invalid;
    for (const auto& key : v.schema_invalid) invalid.insert(request_of(key));
    Completion c;
    Quality q;
    if (auto r = rows->find(l.run_id); r != rows->end()) {
      for (const auto& one : r->second.rows) {
        ++c.rows;
        c.completed += one.state == "completed";
        if (one.first_answer.empty()) continue;
        ++q.answered;
        q.schema_valid += one.first_answer == "completed" && !invalid.count(one.custom_id);
      }
      l.cost_usd = r->second.cost_usd;
    }
    q.accepted = v.accepted;
    q.proposed = v.accepted + v.dropped;
    l.completion_rate = c.rate();
    l.schema_valid_rate = q.schema_valid_rate();
    l.grounded_rate = q.grounded_rate();
    l.leak_alarms = v.leak_alarms;
    l.cost_per_staged_document = l.documents_staged > 0 ? l.cost_usd / static_cast<double>(l.documents_staged) : 0;
    out.push_back(std::move(l));
  }
  return out;
}

// ------------------------------------------------------------------ the drift audit

namespace {

// The accepted facts of a verdict as comparable keys: (type, source name, target name).
std::set<std::string> fact_keys(const verify::RowVerdict& v) {
  std::map<std::string, std::string> names;
  std::set<std::string> out;
  for (const auto& e : v.entities) {
    names[e.local_id] = e.name;
    out.insert(e.type + "\x1f" + e.name + "\x1f");
  }
  for (const auto& r : v.relations) {
    out.insert(r.type + "\x1f" + names[r.source_local_id] + "\x1f" + names[r.target_local_id]);
  }
  return out;
}

struct Side {
  std::int64_t rows = 0, schema_valid = 0, accepted = 0, proposed = 0;
  std::map<std::string, std::int64_t> dropped_by_reason;
  void add(const verify::RowVerdict* v) {
    ++rows;
    if (v == nullptr || !v->schema_ok) return;
    ++schema_valid;
    accepted += static_cast<std::int64_t>(v->accepted_count());
    proposed += static_cast<std::int64_t>(v->accepted_count()) + dropped_facts(*v);
    for (const auto& d : v->dropped) {
      if (d.kind != verify::FactKind::kOutput) ++dropped_by_reason[std::string(verify::to_string(d.reason))];
    }
  }
  double rate(std::int64_t n, std::int64_t of) const { return of > 0 ? static_cast<double>(n) / of : 0; }
};

}  // namespace

Result<DriftReport> Coordinator::drift(const std::string& run_id, int sample,
                                       std::optional<double> budget_usd) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  auto lane = extract::parse_lane(run->lane);
  if (!lane || !extract::is_batch_lane(*lane)) {
    return make_error(ErrorCode::kInvalidInput, "run " + run_id + " used lane " + run->lane +
                                                    ": a drift audit compares batch rows with live answers");
  }
  if (sample < 1) return make_error(ErrorCode::kInvalidInput, "--sample must be at least 1");
  auto requests = extract::run_requests(m.store, run_id);
  if (!requests) return requests.error();
  std::map<std::string, std::string> completed;  // custom_id -> doc_id, completed by a batch
  for (const auto& r : *requests) {
    if (r.state == "completed" && !r.batch_id.empty()) completed.emplace(r.custom_id, r.doc_id);
  }
  if (completed.empty()) {
    return make_error(ErrorCode::kInvalidInput, "run " + run_id + " has no rows completed by a batch");
  }
  // Custom ids are content hashes: their order is a fixed shuffle of the run's rows.
  std::vector<std::pair<std::string, std::string>> chosen(completed.begin(), completed.end());
  if (chosen.size() > static_cast<std::size_t>(sample)) chosen.resize(static_cast<std::size_t>(sample));

  DriftReport out;
  out.run_id = run_id;
  out.lane = run->lane;
  out.model = run->model;
  RunRecord live = *run;
  live.lane = std::string(extract::to_string(extract::live_lane_of(*lane)));
  out.live_lane = live.lane;
  extract::ExtractorOptions eo = m.extractor_options(live, false);
  eo.budget_usd = budget_usd ? budget_usd : m.settings.budget_usd;

  std::map<std::string, ingest::Document> docs;
  std::vector<extract::ExtractionRequest> to_send;
  std::set<std::string> wanted;
  for (const auto& [id, doc] : chosen) wanted.insert(id);
  for (const auto& [id, doc_id] : chosen) {
    if (docs.count(doc_id)) continue;
    auto rec = registry::get_document(m.store, doc_id);
    if (!rec) return rec.error();
    ingest::Document doc = from_record(*rec);
    auto planned = extract::plan_document(doc, eo.plan);
    if (!planned) return planned.error();
    for (auto& r : *planned) {
      if (wanted.erase(r.custom_id)) to_send.push_back(std::move(r));
    }
    docs.emplace(doc_id, std::move(doc));
  }
  out.sampled = static_cast<std::int64_t>(to_send.size());
  double estimate = 0;
  for (const auto& r : to_send) estimate += r.est_cost_usd;
  if (eo.budget_usd && estimate > *eo.budget_usd) {  // before the drift run is recorded
    char buf[160];
    std::snprintf(buf, sizeof buf, "estimated cost $%.4f of %lld live requests exceeds the budget of $%.4f; nothing was sent",
                  estimate, static_cast<long long>(out.sampled), *eo.budget_usd);
    return make_error(ErrorCode::kInvalidInput, buf, "budget");
  }

  // The live calls are a run of their own (lane, model, cost in the ledger like any run's).
  live.run_id = "drift-" + format_utc(m.clock.now()).substr(0, 19) + "-" + random_hex(3);
  std::replace(live.run_id.begin(), live.run_id.end(), ':', '-');
  live.started_at = now_utc(m.clock);
  out.drift_run_id = live.run_id;
  auto tags = m.recorded_options(run_id);
  if (!tags) return tags.error();
  json opts = {{"drift_of", run_id}, {"tags", tags->value("tags", json::object())},
               {"budget_usd", eo.budget_usd ? json(*eo.budget_usd) : json(nullptr)}};
  if (auto s = m.store.execute(
          "INSERT INTO runs(run_id, lane, model, prompt_version, schema_version, drop_path,"
          " state, options_json, started_at) VALUES(?,?,?,?,?,?,?,?,?)",
          {live.run_id, live.lane, live.model, live.prompt_version, live.schema_version, std::string(),
           std::string(to_string(RunState::kStarted)), dump_json(opts), live.started_at});
      !s) {
    return s.error();
  }
  m.progress.update("drift", 0, out.sampled, live.lane);
  auto answers = extract::resend_live(m.store, m.transport, m.clock, eo, live.run_id, to_send);
  (void)m.set_run_state(live.run_id, RunState::kFinished, true);
  if (!answers) return answers.error();

  auto verifier = verify::Verifier::create(extract::bundled_prompt().schema_json);
  if (!verifier) return verifier.error();
  std::map<std::string, verify::PreparedDocument> prepared;
  for (const auto& [id, doc] : docs) prepared.emplace(id, verify::prepare_document(doc));
  std::map<std::pair<std::string, std::string>, std::int64_t> swaps;
  Side batch_side, live_side;
  double overlap = 0;
  for (const extract::RowResult& a : *answers) {
    out.cost_usd += a.cost_usd;
    if (!a.answered_model.empty() && a.answered_model != a.model) ++swaps[{a.model, a.answered_model}];
    if (a.outcome != extract::Outcome::kCompleted && a.outcome != extract::Outcome::kSchemaInvalid) {
      continue;  // not answered (transient, refused, cut off): nothing to compare
    }
    const auto& doc = prepared.at(completed.at(a.custom_id));
    auto stored = extract::stored_result(m.store, a.custom_id);
    if (!stored) return stored.error();
    verify::RowVerdict b = verifier->verify(doc, *stored);
    std::optional<verify::RowVerdict> l;
    if (a.outcome == extract::Outcome::kCompleted) l = verifier->verify(doc, a.content);
    ++out.compared;
    batch_side.add(&b);
    live_side.add(l ? &*l : nullptr);
    const auto kb = fact_keys(b);
    const auto kl = l ? fact_keys(*l) : std::set<std::string>();
    std::size_t both = 0;
    for (const auto& k : kb) both += kl.count(k);
    const std::size_t either = kb.size() + kl.size() - both;
    overlap += either == 0 ? 1.0 : static_cast<double>(both) / static_cast<double>(either);
  }
  for (const auto& [pair, n] : swaps) out.model_swaps.push_back({pair.first, pair.second, n});

  auto measure = [&](std::string name, double batch, double live_value, double gap) {
    out.measures.push_back({std::move(name), batch, live_value, gap, gap > DriftReport::kFlagPoints});
  };
  auto rate_measure = [&](std::string name, double batch, double live_value) {
    measure(std::move(name), batch, live_value, std::fabs(batch - live_value) * 100);
  };
  rate_measure("schema_valid", batch_side.rate(batch_side.schema_valid, batch_side.rows),
               live_side.rate(live_side.schema_valid, live_side.rows));
  measure("facts_accepted", static_cast<double>(batch_side.accepted), static_cast<double>(live_side.accepted),
          batch_side.accepted > 0
              ? std::fabs(static_cast<double>(batch_side.accepted - live_side.accepted)) * 100 /
                    static_cast<double>(batch_side.accepted)
              : (live_side.accepted > 0 ? 100.0 : 0.0));
  rate_measure("grounded", batch_side.rate(batch_side.accepted, batch_side.proposed),
               live_side.rate(live_side.accepted, live_side.proposed));
  rate_measure("fact_overlap", 1.0, out.compared > 0 ? overlap / static_cast<double>(out.compared) : 1.0);
  std::set<std::string> reasons;
  for (const auto& [r, n] : batch_side.dropped_by_reason) reasons.insert(r);
  for (const auto& [r, n] : live_side.dropped_by_reason) reasons.insert(r);
  for (const auto& r : reasons) {
    rate_measure("drop:" + r, batch_side.rate(batch_side.dropped_by_reason[r], batch_side.proposed),
                 live_side.rate(live_side.dropped_by_reason[r], live_side.proposed));
  }
  logger("run")->info("run={} drift audit {} via {}: {} rows compared, {}, ${:.4f}", run_id, live.run_id,
                      live.lane, out.compared, out.flagged() ? "FLAGGED" : "no gap above 2 points",
                      out.cost_usd);
  return out;
}

}  // namespace fgraph::run
