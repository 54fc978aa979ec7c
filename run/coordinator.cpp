#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "run/internal/coordinator_impl.h"

namespace fgraph::run {

using nlohmann::json;
using registry::int_of;
using registry::SqlValue;
using registry::text_of;

std::string now_utc(Clock& clock) { return format_utc(clock.now()); }

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

std::optional<std::string> opt_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

json opt_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// The parts of an ingest::Document that registry::DocumentRecord has no column for.
registry::DocumentRecord to_record(const ingest::Document& d) {
  registry::DocumentRecord r;
  r.doc_id = d.doc_id;
  r.source = d.source;
  r.part = d.part;
  r.format = std::string(ingest::to_string(d.format));
  r.form_type = d.form_type;
  r.cik = d.cik;
  r.company = d.company;
  r.accession = d.accession;
  r.filed_at = d.filed_at;
  json parties = json::array();
  for (const auto& p : d.parties) {
    parties.push_back({{"role", p.role}, {"name", p.name}, {"cik", opt_json(p.cik)}});
  }
  r.metadata_json = dump_json({{"period", opt_json(d.period)},
                               {"doc_type", opt_json(d.doc_type)},
                               {"sequence", opt_json(d.sequence)},
                               {"filename", opt_json(d.filename)},
                               {"description", opt_json(d.description)},
                               {"parties", parties}});
  r.warnings_json = dump_json(d.warnings);
  r.text = d.text;
  return r;
}

ingest::Format parse_format(const std::string& s) {
  for (auto f : {ingest::Format::kSecSubmission, ingest::Format::kHtml, ingest::Format::kIxbrl,
                 ingest::Format::kXml, ingest::Format::kXbrl, ingest::Format::kText}) {
    if (ingest::to_string(f) == s) return f;
  }
  return ingest::Format::kText;
}

}  // namespace

ingest::Document from_record(const registry::DocumentRecord& r) {
  ingest::Document d;
  d.doc_id = r.doc_id;
  d.source = r.source;
  d.part = r.part;
  d.format = parse_format(r.format);
  d.form_type = r.form_type;
  d.cik = r.cik;
  d.company = r.company;
  d.accession = r.accession;
  d.filed_at = r.filed_at;
  d.text = r.text;
  json meta = json::parse(r.metadata_json, nullptr, false);
  if (meta.is_object()) {
    d.period = opt_string(meta, "period");
    d.doc_type = opt_string(meta, "doc_type");
    d.sequence = opt_string(meta, "sequence");
    d.filename = opt_string(meta, "filename");
    d.description = opt_string(meta, "description");
    if (meta.contains("parties") && meta["parties"].is_array()) {
      for (const auto& p : meta["parties"]) {
        d.parties.push_back({p.value("role", ""), p.value("name", ""), opt_string(p, "cik")});
      }
    }
  }
  json warnings = json::parse(r.warnings_json, nullptr, false);
  if (warnings.is_array()) {
    for (const auto& w : warnings) {
      if (w.is_string()) d.warnings.push_back(w.get<std::string>());
    }
  }
  return d;
}

graph::RunInfo run_info(const RunRecord& run) {
  return {run.run_id, run.lane, run.model, run.prompt_version, run.schema_version, run.started_at};
}

// ------------------------------------------------------------------ the run's own tables

Result<RunRecord> Coordinator::Impl::load_run(const std::string& run_id) {
  auto rows = store.query(
      "SELECT run_id, lane, model, prompt_version, schema_version, coalesce(drop_path,''),"
      " started_at, state FROM runs WHERE run_id = ?",
      {run_id});
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorCode::kNotFound, "no run " + run_id);
  const auto& r = (*rows)[0];
  auto state = parse_run_state(text_of(r[7]));
  if (!state) {
    return make_error(ErrorCode::kInternal, "run " + run_id + " has an unknown state " + text_of(r[7]));
  }
  return RunRecord{text_of(r[0]), text_of(r[1]), text_of(r[2]), text_of(r[3]),
                   text_of(r[4]), text_of(r[5]), text_of(r[6]), *state};
}

Status Coordinator::Impl::set_run_state(const std::string& run_id, RunState state, bool finished) {
  SqlValue at = finished ? SqlValue(now_utc(clock)) : SqlValue(std::monostate{});
  return store.execute("UPDATE runs SET state = ?, finished_at = ? WHERE run_id = ?",
                       {std::string(to_string(state)), at, run_id});
}

Status Coordinator::Impl::set_doc_state(const std::string& run_id, const std::string& doc_id,
                                        DocState state) {
  return store.execute("UPDATE run_documents SET state = ? WHERE run_id = ? AND doc_id = ?",
                       {std::string(to_string(state)), run_id, doc_id});
}

Result<RunDocuments> Coordinator::Impl::run_documents(const std::string& run_id) {
  auto rows = store.query(
      "SELECT rd.doc_id, rd.state FROM run_documents rd JOIN run_inputs ri"
      " ON ri.run_id = rd.run_id AND ri.doc_id = rd.doc_id"
      " WHERE rd.run_id = ? GROUP BY rd.doc_id ORDER BY min(ri.rowid)",
      {run_id});
  if (!rows) return rows.error();
  RunDocuments out;
  for (const auto& r : *rows) {
    auto rec = registry::get_document(store, text_of(r[0]));
    if (!rec) return rec.error();
    auto state = parse_doc_state(text_of(r[1]));
    if (!state) {
      return make_error(ErrorCode::kInternal,
                        "document " + text_of(r[0]) + " has an unknown state " + text_of(r[1]));
    }
    out.emplace_back(from_record(*rec), *state);
  }
  return out;
}

Result<json> Coordinator::Impl::recorded_options(const std::string& run_id) {
  auto rows = store.query("SELECT options_json FROM runs WHERE run_id = ?", {run_id});
  if (!rows) return rows.error();
  json opts = rows->empty() ? json() : json::parse(text_of((*rows)[0][0]), nullptr, false);
  return opts.is_object() ? opts : json::object();
}

// ------------------------------------------------------------------ phases

// The drop never yields the home's own files (`fgraph run .` with ./.fgraph inside).
ingest::Options Coordinator::Impl::ingest_options(bool include_hidden) const {
  ingest::Options o;
  o.include_hidden = include_hidden;
  o.excluded_dirs = {settings.home};
  return o;
}

Status Coordinator::Impl::ingest_drop(const std::string& run_id, const std::string& drop,
                                      bool include_hidden) {
  progress.update("parse", 0, 0, drop);
  ingest::ParseResult parsed = ingest::parse_paths({drop}, ingest_options(include_hidden));
  if (parsed.hidden_skipped > 0) {
    logger("run")->info("run={} passed over {} hidden files and folders (--include-hidden reads them)",
                        run_id, parsed.hidden_skipped);
  }
  // One row of run_inputs: what became of one input (a file, or a part of a submission).
  auto record_input = [&](const std::string& source, int part, const char* outcome,
                          const SqlValue& doc_id, const SqlValue& reason_code,
                          const SqlValue& message) {
    return store.execute(
        "INSERT OR REPLACE INTO run_inputs(run_id, source, part, outcome, doc_id, reason_code,"
        " message) VALUES(?, ?, ?, ?, ?, ?, ?)",
        {run_id, source, std::int64_t{part}, std::string(outcome), doc_id, reason_code, message});
  };
  return store.transaction([&]() -> Status {
    long n = 0;
    for (const auto& d : parsed.documents) {
      if (auto s = registry::put_document(store, to_record(d)); !s) return s.error();
      if (auto s = store.execute(
              "INSERT OR IGNORE INTO run_documents(run_id, doc_id, state) VALUES(?, ?, ?)",
              {run_id, d.doc_id, std::string(to_string(DocState::kParsed))});
          !s) {
        return s;
      }
      if (auto s = record_input(d.source, d.part, "document", d.doc_id, {}, {}); !s) return s;
      progress.update("parse", ++n, static_cast<long>(parsed.documents.size()));
    }
    for (const auto& s : parsed.skipped) {
      if (auto e = record_input(s.source, s.part, "skipped", {}, "skipped", s.reason); !e) return e;
    }
    for (const auto& f : parsed.failures) {
      logger("run")->warn("run={} {}: {}", run_id, escape_for_terminal(f.source),
                          escape_for_terminal(f.error.message));
      if (auto e = record_input(f.source, f.part, "failed", {}, f.reason_code, f.error.message); !e) {
        return e;
      }
    }
    return ok();
  });
}

// The budget of this call's submissions: a budget given to this call (recorded as the
// run's new budget on a resume), else the one the run recorded, else the configured one.
Result<std::optional<double>> Coordinator::Impl::run_budget(const std::string& run_id,
                                                            const RunOptions& options) {
  auto recorded = recorded_options(run_id);
  if (!recorded) return recorded.error();
  json& opts = *recorded;
  if (options.budget_usd) {
    if (opts.value("budget_usd", json()) != json(*options.budget_usd)) {
      opts["budget_usd"] = *options.budget_usd;
      if (auto s = store.execute("UPDATE runs SET options_json = ? WHERE run_id = ?",
                                 {dump_json(opts), run_id});
          !s) {
        return s.error();
      }
    }
    return std::optional<double>(*options.budget_usd);
  }
  if (auto b = opts.find("budget_usd"); b != opts.end() && b->is_number()) {
    return std::optional<double>(b->get<double>());
  }
  return settings.budget_usd;
}

extract::ExtractorOptions Coordinator::Impl::extractor_options(const RunRecord& run,
                                                               bool no_wait) const {
  extract::ExtractorOptions o;
  auto lane = extract::parse_lane(run.lane);
  o.lane = lane.value_or(extract::LaneKind::kLocal);
  o.plan.lane = o.lane;
  o.plan.model = run.model;
  if (o.lane == extract::LaneKind::kLocal) {
    // The local model's context is small: keep each chunk well inside it.
    o.plan.max_document_tokens = 1500;
    o.plan.max_output_tokens = 1024;
  }
  o.providers = settings.providers;
  o.plan.prices = &settings.prices;
  o.work_dir = settings.home;
  o.budget_usd = settings.budget_usd;
  o.daily_cap_usd = settings.daily_cap_usd;
  o.monthly_cap_usd = settings.monthly_cap_usd;
  o.sync_concurrency = settings.concurrency;
  if (no_wait) o.max_wait = std::chrono::milliseconds(0);
  o.mode = settings.extract;
  return o;
}

// A verdict is keyed by its request id, or "request@doc" when one answer served several
// documents; a fact's extractor ("model" | "rules", issue 18) is its request's.
std::string Coordinator::Impl::extractor_of(const std::string& run_id, const std::string& request_id) {
  const std::string custom_id = request_id.substr(0, request_id.find('@'));
  auto& known = extractors_by_run[run_id];
  if (!known.count(custom_id)) {
    if (auto reqs = extract::run_requests(store, run_id)) {
      for (const auto& r : *reqs) known[r.custom_id] = r.extractor;
    }
  }
  auto it = known.find(custom_id);
  return it == known.end() ? "model" : it->second;
}

// Verifies every completed request of the run and records the verdicts.
Status Coordinator::Impl::verify_run(const std::string& run_id, const RunDocuments& docs) {
  auto verifier = verify::Verifier::create(extract::bundled_prompt().schema_json);
  if (!verifier) return verifier.error();
  std::map<std::string, verify::PreparedDocument> prepared;
  verify::LeakIndex leaks;
  for (const auto& [doc, state] : docs) {
    auto it = prepared.emplace(doc.doc_id, verify::prepare_document(doc)).first;
    leaks.add(it->second);
  }
  auto requests = extract::run_requests(store, run_id);
  if (!requests) return requests.error();
  // One answer may serve several documents (a chunk of identical text is one request):
  // each document gets its own verdict, keyed by (request, document).
  std::map<std::string, std::set<std::string>> docs_of_request;
  for (const auto& req : *requests) docs_of_request[req.custom_id].insert(req.doc_id);
  std::set<std::pair<std::string, std::string>> seen;
  long n = 0;
  for (const auto& req : *requests) {
    progress.update("verify", ++n, static_cast<long>(requests->size()));
    if (req.state != "completed" || !seen.emplace(req.custom_id, req.doc_id).second) continue;
    auto doc = prepared.find(req.doc_id);
    if (doc == prepared.end()) continue;
    auto content = extract::stored_result(store, req.custom_id);
    if (!content) return content.error();
    verify::RowVerdict verdict = verifier->verify(doc->second, *content, &leaks);
    const std::string row_key = docs_of_request[req.custom_id].size() == 1
                                    ? req.custom_id
                                    : req.custom_id + "@" + req.doc_id;
    if (auto s = verify::record_verdict(store, {run_id, row_key, req.batch_id}, verdict,
                                        now_utc(clock));
        !s) {
      return s;
    }
    crash_point("verify");
  }
  return store.execute("UPDATE run_documents SET state = ? WHERE run_id = ? AND state = ?",
                       {std::string(to_string(DocState::kVerified)), run_id,
                        std::string(to_string(DocState::kParsed))});
}

// Resolves the filer identity and every verified entity of each document, in the run's
// order. Whole documents are gathered into groups of about registry::kResolveGroupInputs
// entities; each group is one transaction that holds the registry's changes and the
// run_entities rows that record them, so a crash leaves a document either resolved and
// recorded or untouched.
Status Coordinator::Impl::resolve_run(const std::string& run_id, const RunDocuments& docs) {
  struct Key {
    std::string doc_id, request_id, local_id;
  };
  std::vector<registry::EntityInput> inputs;
  std::vector<Key> keys;
  auto flush = [&]() -> Status {
    if (inputs.empty()) return ok();
    auto resolved = entities.resolve_all(
        inputs, [&](const std::vector<registry::Resolution>& out) -> Status {
          auto st = store.cached(
              "INSERT OR REPLACE INTO run_entities(run_id, request_id, local_id, doc_id,"
              " entity_id, method, score) VALUES(?, ?, ?, ?, ?, ?, ?)");
          if (!st) return st.error();
          for (size_t i = 0; i < out.size(); ++i) {
            (*st)->reset();
            (*st)->bind(1, run_id).bind(2, keys[i].request_id).bind(3, keys[i].local_id);
            (*st)->bind(4, keys[i].doc_id).bind(5, out[i].entity_id).bind(6, out[i].method);
            (*st)->bind(7, registry::SqlValue(out[i].score));
            if (auto e = (*st)->run(); !e) return e;
          }
          crash_point("resolve_uncommitted");
          return ok();
        });
    if (!resolved) return resolved.error();
    inputs.clear();
    keys.clear();
    crash_point("resolve");
    return ok();
  };
  // A model may misquote an identifier: a malformed CIK/LEI is dropped, not fatal.
  auto digits = [](const std::optional<std::string>& s) {
    return s && !s->empty() && s->size() <= 10 &&
           std::all_of(s->begin(), s->end(), [](unsigned char c) { return std::isdigit(c); });
  };
  long n = 0;
  for (const auto& [doc, state] : docs) {
    progress.update("resolve", ++n, static_cast<long>(docs.size()));
    if (state != DocState::kParsed && state != DocState::kVerified) continue;
    auto done = store.query(
        "SELECT count(*) FROM run_entities WHERE run_id = ? AND doc_id = ?", {run_id, doc.doc_id});
    if (!done) return done.error();
    if (int_of((*done)[0][0]) > 0) continue;  // resolved before a crash or a resume

    if (auto filer = registry::filer_input(doc.doc_id, doc.company, doc.cik, run_id)) {
      inputs.push_back(*filer);
      keys.push_back({doc.doc_id, doc.doc_id, std::string(verify::kFilerRef)});  // one filer row per document
    }
    auto facts = verify::recorded_facts(store, run_id, doc.doc_id);
    if (!facts) return facts.error();
    for (const auto& [request_id, e] : facts->entities) {
      registry::EntityInput in;
      in.type = e.type;
      in.name = e.name;
      in.cik = e.cik;
      in.ticker = e.ticker;
      in.lei = e.lei;
      in.jurisdiction = e.jurisdiction;
      in.doc_id = doc.doc_id;
      in.run_id = run_id;
      if (in.cik && !digits(in.cik)) in.cik.reset();
      if (in.lei && in.lei->size() != 20) in.lei.reset();
      // An identifier the form extractor read from a form's own field (issue 18) is the
      // filing's word, as the filer identity of the metadata is; a CUSIP comes only from
      // there (the quote of a 13F row), and a malformed one is left out as a CIK is.
      const bool rules = extractor_of(run_id, request_id) == "rules";
      if (rules) {
        if (auto cusip = extract::form_cusip(e.evidence); cusip && registry::normalize_cusip(*cusip)) {
          in.cusip = cusip;
        }
      }
      in.authoritative = (in.cik || in.lei) && rules;
      inputs.push_back(std::move(in));
      keys.push_back({doc.doc_id, request_id, e.local_id});
    }
    if (inputs.size() >= registry::kResolveGroupInputs) {
      if (auto s = flush(); !s) return s;
    }
  }
  return flush();
}

// ------------------------------------------------------------------ the public calls

Coordinator::Coordinator(Settings settings, registry::Store& store, HttpTransport& transport,
                         Clock& clock, ProgressSink& progress)
    : impl_(std::make_unique<Impl>(std::move(settings), store, transport, clock, progress)) {}
Coordinator::~Coordinator() = default;

namespace {

// A new run's record, before it is written: its lane and model checked.
Result<RunRecord> new_run(const Settings& settings, const RunOptions& options) {
  if (options.drop.empty()) return make_error(ErrorCode::kInvalidInput, "no drop given");
  if (!std::filesystem::exists(options.drop)) {
    return make_error(ErrorCode::kInvalidInput, "drop not found: " + options.drop);
  }
  RunRecord run;
  run.lane = options.lane.value_or(settings.lane);
  if (options.model) {
    run.model = *options.model;
  } else if (!settings.model.empty()) {
    run.model = settings.model;
  } else if (auto m = settings.lane_models.find(run.lane); m != settings.lane_models.end()) {
    run.model = m->second;
  }
  run.prompt_version = extract::bundled_prompt().prompt_version;
  run.schema_version = extract::bundled_prompt().schema_version;
  run.drop_path = options.drop;
  if (run.lane == "replay") {
    return make_error(ErrorCode::kInvalidInput,
                      "the replay lane has no drop: use `fgraph replay RUN_ID`");
  }
  auto lane = extract::parse_lane(run.lane);
  if (!lane) return make_error(ErrorCode::kInvalidInput, "unknown lane " + run.lane);
  if (run.model.empty()) return make_error(ErrorCode::kInvalidInput, "no model for lane " + run.lane);
  // Before a run is recorded: an unpriced model on a paid lane would cost $0 (the
  // extractor checks again, for resumes).
  if (auto s = extract::check_priced(*lane, run.model, &settings.prices); !s) return s.error();
  return run;
}

}  // namespace

Result<std::string> Coordinator::start(const RunOptions& options) {
  Impl& m = *impl_;
  auto run = new_run(m.settings, options);
  if (!run) return run.error();
  auto tags = new_run_tags(m.settings, options);
  if (!tags) return tags.error();
  run->run_id = "run-" + format_utc(m.clock.now()).substr(0, 19) + "-" + random_hex(3);
  std::replace(run->run_id.begin(), run->run_id.end(), ':', '-');
  run->started_at = now_utc(m.clock);
  const std::optional<double> budget = options.budget_usd ? options.budget_usd : m.settings.budget_usd;
  json opts = {{"budget_usd", budget ? json(*budget) : json(nullptr)},
               {"no_wait", options.no_wait},
               {"include_hidden", options.include_hidden},
               {"tags", *tags},
               // issue 20: the quality gates this run was started with
               {"on_failure", to_string(options.on_failure.value_or(m.settings.on_failure))},
               {"canary_fraction", options.canary_fraction.value_or(m.settings.canary.fraction)}};
  if (auto s = m.store.execute(
          "INSERT INTO runs(run_id, lane, model, prompt_version, schema_version, drop_path,"
          " state, options_json, started_at) VALUES(?,?,?,?,?,?,?,?,?)",
          {run->run_id, run->lane, run->model, run->prompt_version, run->schema_version,
           run->drop_path, std::string(to_string(RunState::kStarted)), dump_json(opts),
           run->started_at});
      !s) {
    return s.error();
  }
  logger("run")->info("run={} started lane={} model={}", run->run_id, run->lane, run->model);
  if (auto s = m.ingest_drop(run->run_id, run->drop_path, options.include_hidden); !s) {
    return s.error();
  }
  crash_point("after_ingest");
  return run->run_id;
}

Result<RunReport> Coordinator::run(const RunOptions& options) {
  Impl& m = *impl_;
  if (options.dry_run) {
    auto run = new_run(m.settings, options);
    if (!run) return run.error();
    auto tags = new_run_tags(m.settings, options);
    if (!tags) return tags.error();
    ingest::ParseResult parsed =
        ingest::parse_paths({options.drop}, m.ingest_options(options.include_hidden));
    extract::Extractor extractor(m.store, m.transport, m.clock, m.extractor_options(*run, false));
    auto plan = extractor.plan(parsed.documents);
    if (!plan) return plan.error();
    RunReport r;
    r.dry_run = true;
    r.lane = run->lane;
    r.model = run->model;
    r.state = "dry-run";
    r.files_seen = static_cast<std::int64_t>(parsed.documents.size() + parsed.skipped.size() +
                                             parsed.failures.size());
    r.documents_parsed = static_cast<std::int64_t>(parsed.documents.size());
    r.parts_skipped = static_cast<std::int64_t>(parsed.skipped.size());
    for (const auto& f : parsed.failures) r.files_failed_by_reason[f.reason_code]++;
    r.requests_planned = plan->requests_planned;
    r.requests_deduplicated = plan->requests_deduplicated;
    r.requests_reused = plan->requests_reused;
    r.requests_submitted = 0;
    r.est_cost_usd = plan->est_cost_usd;
    if (plan->documents_rules > 0) r.documents_by_extractor["rules"] = plan->documents_rules;
    r.documents_model_skipped = plan->documents_model_skipped;
    r.saved_usd = plan->saved_usd;
    r.tags = *tags;
    fill_plan(*plan, parsed.documents, r);
    return r;
  }

  const bool resuming = !options.resume_run_id.empty();
  std::string run_id = options.resume_run_id;
  if (!resuming) {
    auto started = start(options);
    if (!started) return started.error();
    run_id = *started;
  }
  auto loaded = m.load_run(run_id);
  if (!loaded) return loaded.error();
  RunRecord run = *loaded;
  if (resuming) {
    if (run.state == RunState::kRolledBack) {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run_id + " was rolled back; use `fgraph replay " + run_id +
                            "` to stage it again");
    }
    if (run.state == RunState::kRollingBack) {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run_id + " is half rolled back; finish with `fgraph rollback " +
                            run_id + "`");
    }
    // ---- issue 20: a failed canary sent no bulk; a halted run waits for `fgraph retry`,
    // or for --on-failure continue, which verifies and stages what completed.
    if (run.state == RunState::kCanaryFailed) {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run_id + " failed its canary and nothing was bulk-submitted (`fgraph "
                        "status " + run_id + "` says why); fix the cause and start a new run");
    }
    if (run.state == RunState::kHalted) {
      auto policy = m.failure_policy(run_id, options);
      if (!policy) return policy.error();
      if (*policy == FailurePolicy::kHalt && !options.retry_dead_letters) {
        return make_error(ErrorCode::kInvalidInput,
                          "run " + run_id + " halted on dead letters; send them again with `fgraph retry " +
                              run_id + "`, or stage what completed with `fgraph run --resume " + run_id +
                              " --on-failure continue`");
      }
      if (!options.retry_dead_letters) run.state = RunState::kExtracted;
    }
    auto recorded = m.recorded_options(run_id);
    if (!recorded) return recorded.error();
    // A run a spend cap refused is checked against the caps again on a plain resume.
    if (run.state == RunState::kBudgetRefused && !options.budget_usd &&
        recorded->value("refused_by", "") != "spend_cap") {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run_id + " was refused by its budget and nothing was sent; "
                        "resume it only with a new budget: `fgraph run --resume " + run_id +
                            " --budget-usd AMOUNT`", "budget");
    }
    // Killed before the drop's ingest committed (it is one transaction): ingest it now.
    auto inputs = m.store.query("SELECT count(*) FROM run_inputs WHERE run_id = ?", {run_id});
    if (!inputs) return inputs.error();
    if (int_of((*inputs)[0][0]) == 0 && !run.drop_path.empty()) {
      // With the run's own --include-hidden, as recorded when it started.
      const bool include_hidden = options.include_hidden || recorded->value("include_hidden", false);
      if (auto s = m.ingest_drop(run_id, run.drop_path, include_hidden); !s) return s.error();
    }
  }

  RunReport report;
  auto docs = m.run_documents(run_id);
  if (!docs) return docs.error();

  // Extract: plans, submits and collects (or resumes open batches).
  if (run.state == RunState::kStarted || run.state == RunState::kSubmitted ||
      run.state == RunState::kBudgetRefused || run.state == RunState::kHalted) {
    std::vector<ingest::Document> plain;
    for (const auto& [d, state] : *docs) {
      if (state == DocState::kParsed) plain.push_back(d);
    }
    auto budget = m.run_budget(run_id, options);
    if (!budget) return budget.error();
    extract::ExtractorOptions eo = m.extractor_options(run, options.no_wait);
    eo.budget_usd = *budget;
    auto recorded = m.recorded_options(run_id);
    if (!recorded) return recorded.error();
    eo.batch_metadata = recorded_tags(*recorded);
    eo.retry_dead_letters = options.retry_dead_letters;
    // Issue 20: a batch run's canary goes first; below its thresholds nothing is bulk-submitted.
    auto canary = m.run_canary(run, *docs, eo);
    if (!canary) return canary.error();
    if (*canary && !(*canary)->passed) {
      (void)m.set_run_state(run_id, RunState::kCanaryFailed, true);
      if (auto s = m.fill_report(run_id, report); !s) return s.error();
      return report;
    }
    extract::Extractor extractor(m.store, m.transport, m.clock, eo);
    auto rec = extractor.run(run_id, plain, [&](const extract::Progress& p) {
      m.progress.update("extract", p.completed + p.failed, p.submitted,
                        p.phase + (p.detail.empty() ? "" : " " + p.detail));
    });
    if (!rec) {
      bool waiting = options.no_wait && rec.error().code == ErrorCode::kTransient;
      // A refusal by the budget sent nothing (a spend cap's refusal of a retry round held
      // the failed rows back, after the first round went out); left `submitted`, a plain
      // resume would spend.
      const bool by_cap = rec.error().detail == "spend_cap";
      const bool refused = rec.error().detail == "budget" || by_cap;
      (void)m.set_run_state(run_id, refused ? RunState::kBudgetRefused : RunState::kSubmitted, false);
      if (refused) {
        (*recorded)["refused_by"] = rec.error().detail;
        (void)m.store.execute("UPDATE runs SET options_json = ? WHERE run_id = ?", {dump_json(*recorded), run_id});
        Error e = rec.error();
        e.message = "run " + run_id + " refused: " + e.message +
                    (by_cap ? "; resume it once the cap allows (a new day or month, or a higher cap): "
                              "`fgraph run --resume " + run_id + "`"
                            : "; resume it with a new budget: `fgraph run --resume " + run_id +
                                  " --budget-usd AMOUNT`");
        return e;
      }
      if (!waiting) return rec.error();
      if (auto s = m.fill_report(run_id, report); !s) return s.error();
      return report;
    }
    if (rec->in_flight > 0) {
      (void)m.set_run_state(run_id, RunState::kSubmitted, false);
      if (auto s = m.fill_report(run_id, report); !s) return s.error();
      return report;
    }
    // Issue 20: on_failure=halt stops here, before anything is verified or staged.
    auto policy = m.failure_policy(run_id, options);
    if (!policy) return policy.error();
    if (*policy == FailurePolicy::kHalt && rec->dead_lettered > 0) {
      logger("run")->warn("run={} halted: {} rows dead-lettered (on_failure=halt); nothing staged",
                          run_id, rec->dead_lettered);
      (void)m.set_run_state(run_id, RunState::kHalted, false);
      if (auto s = m.fill_report(run_id, report); !s) return s.error();
      return report;
    }
    (void)m.set_run_state(run_id, RunState::kExtracted, false);
    run.state = RunState::kExtracted;
  }

  if (run.state == RunState::kExtracted) {
    if (auto s = m.verify_run(run_id, *docs); !s) return s.error();
    (void)m.set_run_state(run_id, RunState::kVerified, false);
    run.state = RunState::kVerified;
    docs = m.run_documents(run_id);
    if (!docs) return docs.error();
  }

  if (run.state == RunState::kVerified || run.state == RunState::kStaged ||
      run.state == RunState::kFinished) {
    if (auto s = m.resolve_run(run_id, *docs); !s) return s.error();
    Status staged = m.stage_run(run, *docs, &report);
    if (!staged) {
      logger("run")->error("run={} staging stopped: {}", run_id, staged.error().describe());
      return staged.error();
    }
    (void)m.set_run_state(run_id, RunState::kFinished, true);
  }
  auto errors = report.stage_errors;
  if (auto s = m.fill_report(run_id, report); !s) return s.error();
  report.stage_errors = errors;
  return report;
}

Result<std::vector<std::vector<std::string>>> Coordinator::query(const std::string& cypher) {
  auto result = impl_->graph().run_read_query({cypher, "{}"});
  if (!result) return result.error();
  std::vector<std::vector<std::string>> rows;
  for (const auto& row_text : result->rows_json) {
    json row = json::parse(row_text, nullptr, false);
    std::vector<std::string> cells;
    if (row.is_array()) {
      for (const auto& cell : row) {
        cells.push_back(cell.is_string() ? cell.get<std::string>() : dump_json(cell));
      }
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace fgraph::run
