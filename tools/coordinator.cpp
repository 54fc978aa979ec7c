#include "tools/coordinator.h"

#include <algorithm>
#include <filesystem>
#include <future>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "graph/graph.h"
#include "ingest/ingest.h"
#include "verify/verify.h"

namespace fgraph::cli {
namespace {

using nlohmann::json;
using registry::SqlValue;
using registry::Store;

std::string now_utc(Clock& clock) { return format_utc(clock.now()); }

std::optional<std::string> opt_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

json opt_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

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

std::int64_t as_int(const SqlValue& v) {
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<std::int64_t>(*p);
  return 0;
}
std::string as_text(const SqlValue& v) {
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<std::int64_t>(&v)) return std::to_string(*p);
  return "";
}

// A document rolled back (or half rolled back) by `fgraph rollback --doc` is not staged
// again by a resume; `fgraph replay` revives it.
bool is_rolled_back(const std::string& state) {
  return state == "rolled_back" || state == "rolling_back";
}

struct RunRow {
  std::string run_id, lane, model, prompt_version, schema_version, drop_path, state;
};

extract::ProviderConfig provider_config(const Config& c) {
  extract::ProviderConfig p;
  p.openai_base_url = c.openai.base_url;
  p.openai_api_key = c.openai.api_key;
  p.anthropic_base_url = c.anthropic.base_url;
  p.anthropic_api_key = c.anthropic.api_key;
  p.local_base_url = c.local.base_url;
  return p;
}

}  // namespace

struct Coordinator::Impl {
  const Config& config;
  Store& store;
  HttpTransport& transport;
  Clock& clock;
  Progress& progress;
  registry::EntityRegistry entities;
  std::unique_ptr<graph::GraphClient> graph_client;

  Impl(const Config& c, Store& s, HttpTransport& t, Clock& k, Progress& p)
      : config(c), store(s), transport(t), clock(k), progress(p), entities(s, {}, &k) {}

  // ---------------------------------------------------------------- ledger helpers
  Result<RunRow> load_run(const std::string& run_id) {
    auto rows = store.query(
        "SELECT run_id, lane, model, prompt_version, schema_version, coalesce(drop_path,''),"
        " state FROM runs WHERE run_id = ?",
        {run_id});
    if (!rows) return rows.error();
    if (rows->empty()) return make_error(ErrorCode::kNotFound, "no run " + run_id);
    const auto& r = (*rows)[0];
    return RunRow{as_text(r[0]), as_text(r[1]), as_text(r[2]), as_text(r[3]),
                  as_text(r[4]), as_text(r[5]), as_text(r[6])};
  }

  // Records the run's phase; `finished` stamps finished_at, otherwise it is cleared.
  Status set_run_state(const std::string& run_id, const std::string& state, bool finished) {
    SqlValue at = finished ? SqlValue(now_utc(clock)) : SqlValue(std::monostate{});
    return store.execute("UPDATE runs SET state = ?, finished_at = ? WHERE run_id = ?",
                         {state, at, run_id});
  }

  // Documents of the run, in the order they were parsed, with their ledger state.
  Result<std::vector<std::pair<ingest::Document, std::string>>> run_documents(
      const std::string& run_id) {
    auto rows = store.query(
        "SELECT rd.doc_id, rd.state FROM run_documents rd JOIN run_inputs ri"
        " ON ri.run_id = rd.run_id AND ri.doc_id = rd.doc_id"
        " WHERE rd.run_id = ? GROUP BY rd.doc_id ORDER BY min(ri.rowid)",
        {run_id});
    if (!rows) return rows.error();
    std::vector<std::pair<ingest::Document, std::string>> out;
    for (const auto& r : *rows) {
      auto rec = registry::get_document(store, as_text(r[0]));
      if (!rec) return rec.error();
      out.emplace_back(from_record(*rec), as_text(r[1]));
    }
    return out;
  }

  // ---------------------------------------------------------------- phases
  // One row of run_inputs: what became of one input (a file, or a part of a submission).
  Status record_input(const std::string& run_id, const std::string& source, int part,
                      const char* outcome, const SqlValue& doc_id, const SqlValue& reason_code,
                      const SqlValue& message) {
    return store.execute(
        "INSERT OR REPLACE INTO run_inputs(run_id, source, part, outcome, doc_id, reason_code,"
        " message) VALUES(?, ?, ?, ?, ?, ?, ?)",
        {run_id, source, std::int64_t{part}, std::string(outcome), doc_id, reason_code, message});
  }

  // The drop never yields the home's own files (`fgraph run .` with ./.fgraph inside).
  ingest::Options ingest_options(bool include_hidden) const {
    ingest::Options o;
    o.include_hidden = include_hidden;
    o.excluded_dirs = {config.home};
    return o;
  }

  Status ingest_drop(const std::string& run_id, const std::string& drop, bool include_hidden) {
    progress.update("parse", 0, 0, drop);
    ingest::ParseResult parsed = ingest::parse_paths({drop}, ingest_options(include_hidden));
    if (parsed.hidden_skipped > 0) {
      logger("run")->info("run={} passed over {} hidden files and folders (--include-hidden reads them)",
                          run_id, parsed.hidden_skipped);
    }
    return store.transaction([&]() -> Status {
      long n = 0;
      for (const auto& d : parsed.documents) {
        if (auto s = registry::put_document(store, to_record(d)); !s) return s.error();
        if (auto s = store.execute(
                "INSERT OR IGNORE INTO run_documents(run_id, doc_id, state) VALUES(?, ?, 'parsed')",
                {run_id, d.doc_id});
            !s) {
          return s;
        }
        if (auto s = record_input(run_id, d.source, d.part, "document", d.doc_id, {}, {}); !s) {
          return s;
        }
        progress.update("parse", ++n, static_cast<long>(parsed.documents.size()));
      }
      for (const auto& s : parsed.skipped) {
        if (auto e = record_input(run_id, s.source, s.part, "skipped", {}, "skipped", s.reason); !e) {
          return e;
        }
      }
      for (const auto& f : parsed.failures) {
        logger("run")->warn("run={} {}: {}", run_id, escape_for_terminal(f.source),
                            escape_for_terminal(f.error.message));
        if (auto e = record_input(run_id, f.source, f.part, "failed", {}, f.reason_code, f.error.message);
            !e) {
          return e;
        }
      }
      return ok();
    });
  }

  // The budget of this command's submissions: a budget given to this command (recorded
  // as the run's new budget on a resume), else the one the run recorded, else the
  // configured one.
  // The options a run recorded when it started (runs.options_json), an object.
  Result<json> recorded_options(const std::string& run_id) {
    auto rows = store.query("SELECT options_json FROM runs WHERE run_id = ?", {run_id});
    if (!rows) return rows.error();
    json opts = rows->empty() ? json() : json::parse(as_text((*rows)[0][0]), nullptr, false);
    return opts.is_object() ? opts : json::object();
  }

  Result<std::optional<double>> run_budget(const std::string& run_id, const RunOptions& options) {
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
    return config.budget_usd;
  }

  extract::ExtractorOptions extractor_options(const RunRow& run, bool no_wait) {
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
    o.providers = provider_config(config);
    o.plan.prices = &config.prices;
    o.work_dir = config.home;
    o.budget_usd = config.budget_usd;
    o.sync_concurrency = config.concurrency;
    if (no_wait) o.max_wait = std::chrono::milliseconds(0);
    o.mode = extract::parse_extract_mode(config.extract).value_or(extract::ExtractMode::kRulesAndModel);
    return o;
  }

  // ---- issue 18 (form extractor): which extractor proposed a verified fact -------------
  // A verdict is keyed by its request id, or "request@doc" when one answer served several
  // documents; the extractor ("model" | "rules") is the request's, from the extract ledger.
  std::map<std::string, std::map<std::string, std::string>> extractors_by_run;
  std::string extractor_of(const std::string& run_id, const std::string& request_id) {
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
  // ---- end issue 18 ----------------------------------------------------------------------

  // Verifies every completed request of the run and records the verdicts.
  Status verify_run(const std::string& run_id,
                    const std::vector<std::pair<ingest::Document, std::string>>& docs) {
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
      auto batch = store.query(
          "SELECT coalesce(ro.remote_id, '') FROM attempts a JOIN remote_objects ro"
          " ON ro.obj_key = a.obj_key WHERE a.custom_id = ? AND a.outcome = 'completed'"
          " ORDER BY a.attempt_id DESC LIMIT 1",
          {req.custom_id});
      if (!batch) return batch.error();
      std::string batch_id = batch->empty() ? "" : as_text((*batch)[0][0]);
      const std::string row_key = docs_of_request[req.custom_id].size() == 1
                                      ? req.custom_id
                                      : req.custom_id + "@" + req.doc_id;
      if (auto s = verify::record_verdict(store, {run_id, row_key, batch_id}, verdict,
                                          now_utc(clock));
          !s) {
        return s;
      }
      crash_point("verify");
    }
    return store.execute(
        "UPDATE run_documents SET state = 'verified' WHERE run_id = ? AND state = 'parsed'",
        {run_id});
  }

  // Resolves the filer identity and every verified entity of each document, in the
  // run's order. Whole documents are gathered into groups of about
  // registry::kResolveGroupInputs entities; each group is one transaction that holds the
  // registry's changes and the run_entities rows that record them, so a crash leaves a
  // document either resolved and recorded or untouched.
  Status resolve_run(const std::string& run_id,
                     const std::vector<std::pair<ingest::Document, std::string>>& docs) {
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
    long n = 0;
    for (const auto& [doc, state] : docs) {
      progress.update("resolve", ++n, static_cast<long>(docs.size()));
      if (state == "staged" || state == "failed" || is_rolled_back(state)) continue;
      auto done = store.query(
          "SELECT count(*) FROM run_entities WHERE run_id = ? AND doc_id = ?", {run_id, doc.doc_id});
      if (!done) return done.error();
      if (as_int((*done)[0][0]) > 0) continue;  // resolved before a crash or a resume

      if (auto filer = registry::filer_input(doc.doc_id, doc.company, doc.cik, run_id)) {
        inputs.push_back(*filer);
        keys.push_back({doc.doc_id, doc.doc_id, "@filer"});  // one filer row per document
      }
      auto facts = store.query(
          "SELECT request_id, local_id, fact_json FROM verified_facts"
          " WHERE run_id = ? AND doc_id = ? AND kind = 'entity' ORDER BY request_id, fact_index",
          {run_id, doc.doc_id});
      if (!facts) return facts.error();
      for (const auto& f : *facts) {
        json fact = json::parse(as_text(f[2]), nullptr, false);
        if (!fact.is_object()) continue;
        registry::EntityInput in;
        in.type = fact.value("type", "");
        in.name = fact.value("name", "");
        in.cik = opt_string(fact, "cik");
        in.ticker = opt_string(fact, "ticker");
        in.lei = opt_string(fact, "lei");
        in.jurisdiction = opt_string(fact, "jurisdiction");
        in.doc_id = doc.doc_id;
        in.run_id = run_id;
        // A model may misquote an identifier: a malformed CIK/LEI is dropped, not fatal.
        auto digits = [](const std::optional<std::string>& s) {
          return s && !s->empty() && s->size() <= 10 &&
                 std::all_of(s->begin(), s->end(), [](unsigned char c) { return std::isdigit(c); });
        };
        if (in.cik && !digits(in.cik)) in.cik.reset();
        if (in.lei && in.lei->size() != 20) in.lei.reset();
        // An identifier the form extractor read from a form's own field (issue 18) is the
        // filing's word, as the filer identity of the metadata is.
        in.authoritative = (in.cik || in.lei) && extractor_of(run_id, as_text(f[0])) == "rules";
        inputs.push_back(std::move(in));
        keys.push_back({doc.doc_id, as_text(f[0]), as_text(f[1])});
      }
      if (inputs.size() >= registry::kResolveGroupInputs) {
        if (auto s = flush(); !s) return s;
      }
    }
    return flush();
  }

  graph::GraphClient& graph() {
    if (!graph_client) {
      graph::Neo4jOptions o;
      o.url = config.neo4j.url;
      o.user = config.neo4j.user;
      o.password = config.neo4j.password;
      o.database = config.neo4j.database;
      // The allow-list comes from the same embedded schema text the requests carry.
      auto schema = graph::parse_graph_schema(extract::bundled_prompt().schema_json,
                                              extract::bundled_prompt().schema_version);
      FGRAPH_CHECK(schema.has_value());
      graph_client = std::make_unique<graph::GraphClient>(o, *schema, transport, clock);
    }
    return *graph_client;
  }

  graph::EntityNode entity_node(const std::string& entity_id) {
    graph::EntityNode n;
    n.entity_id = entity_id;
    auto d = entities.identity(entity_id);
    if (d) {
      n.type = d->type;
      n.name = d->name;
      n.cik = d->cik;
      n.ticker = d->ticker;
      n.lei = d->lei;
      n.jurisdiction = d->jurisdiction;
    }
    return n;
  }

  // The staging input of one resolved document, from the ledger: its entities (by registry
  // id) and its accepted relations, each fact once.
  Result<graph::GraphClient::StageInput> stage_input(const RunRow& run, const ingest::Document& doc) {
    auto mapping_rows = store.query(
        "SELECT request_id, local_id, entity_id FROM run_entities WHERE run_id = ? AND doc_id = ?",
        {run.run_id, doc.doc_id});
    if (!mapping_rows) return mapping_rows.error();
    std::map<std::pair<std::string, std::string>, std::string> mapping;
    std::set<std::string> entity_ids;
    for (const auto& r : *mapping_rows) {
      mapping[{as_text(r[0]), as_text(r[1])}] = as_text(r[2]);
      entity_ids.insert(as_text(r[2]));
    }
    graph::GraphClient::StageInput in;
    for (const auto& id : entity_ids) in.entities.push_back(entity_node(id));

    auto rel_rows = store.query(
        "SELECT request_id, fact_json, evidence, char_start, char_end FROM verified_facts"
        " WHERE run_id = ? AND doc_id = ? AND kind = 'relation' ORDER BY request_id, fact_index",
        {run.run_id, doc.doc_id});
    if (!rel_rows) return rel_rows.error();
    std::set<std::string> fact_ids;
    for (const auto& r : *rel_rows) {
      json fact = json::parse(as_text(r[1]), nullptr, false);
      if (!fact.is_object()) continue;
      std::string request_id = as_text(r[0]);
      auto src = mapping.find({request_id, fact.value("source", "")});
      auto dst = mapping.find({request_id, fact.value("target", "")});
      if (src == mapping.end() || dst == mapping.end()) continue;
      graph::RelationEdge e;
      e.type = fact.value("type", "");
      e.source_entity_id = src->second;
      e.target_entity_id = dst->second;
      e.run_id = run.run_id;
      e.doc_id = doc.doc_id;
      e.evidence = as_text(r[2]);
      e.char_start = as_int(r[3]);
      e.char_end = as_int(r[4]);
      if (fact.contains("ownership_percent") && fact["ownership_percent"].is_number()) {
        e.ownership_percent = fact["ownership_percent"].get<double>();
      }
      e.effective_date = opt_string(fact, "effective_date");
      e.role = opt_string(fact, "role");
      e.extractor = extractor_of(run.run_id, request_id);
      e.fact_id = graph::make_fact_id(doc.doc_id, e.type, e.source_entity_id,
                                      e.target_entity_id, e.evidence);
      if (!fact_ids.insert(e.fact_id).second) continue;  // the same fact from two chunks
      in.relations.push_back(std::move(e));
    }
    in.document.doc_id = doc.doc_id;
    in.document.accession = doc.accession.value_or("");
    in.document.form_type = doc.form_type.value_or("");
    in.document.cik = doc.cik.value_or("");
    in.document.filer = doc.company.value_or("");
    in.document.filed_at = doc.filed_at.value_or("");
    in.document.source = doc.source;
    return in;
  }

  // Records one staging outcome in the ledger: the staged facts and the document's state.
  // Called inside the batch's ledger transaction.
  // `via`: the live run whose edges hold these facts when this run wrote nothing (see
  // migration 0502); nullopt when this run's own edges do.
  Status record_staged(const std::string& run_id, const graph::GraphClient::StageInput& in,
                       const Result<graph::Counters>& staged, RunReport* report,
                       const std::optional<std::string>& via = std::nullopt) {
    const std::string& doc_id = in.document.doc_id;
    if (!staged) {
      std::string why = staged.error().detail.empty()
                            ? staged.error().message
                            : staged.error().detail + " " + staged.error().message;
      logger("run")->error("run={} doc={} staging failed: {}", run_id, doc_id, why);
      if (report != nullptr) report->stage_errors.push_back(doc_id + ": " + why);
      return store.execute(
          "UPDATE run_documents SET state = 'failed', error = ? WHERE run_id = ? AND doc_id = ?",
          {why, run_id, doc_id});
    }
    std::string at = now_utc(clock);
    for (const auto& e : in.relations) {
      if (auto x = store.execute(
              "INSERT OR REPLACE INTO staged_facts(run_id, doc_id, fact_id, rel_type,"
              " source_entity_id, target_entity_id, evidence, char_start, char_end, staged_at)"
              " VALUES(?,?,?,?,?,?,?,?,?,?)",
              {run_id, doc_id, e.fact_id, e.type, e.source_entity_id, e.target_entity_id,
               e.evidence, e.char_start, e.char_end, at});
          !x) {
        return x;
      }
    }
    return store.execute(
        "UPDATE run_documents SET state = 'staged', error = NULL, staged_at = ?, staged_via = ?"
        " WHERE run_id = ? AND doc_id = ?",
        {at, via ? SqlValue(*via) : SqlValue(std::monostate{}), run_id, doc_id});
  }

  graph::RunInfo run_info(const RunRow& run) {
    graph::RunInfo info{run.run_id, run.lane, run.model, run.prompt_version, run.schema_version, ""};
    auto started = store.query("SELECT started_at FROM runs WHERE run_id = ?", {run.run_id});
    if (started && !started->empty()) info.started_at = as_text((*started)[0][0]);
    return info;
  }

  // Invariant 7: a drop fed again changes nothing. A live run of the same model, prompt
  // and schema whose own edges hold exactly this document's entities and facts vouches for
  // it: this run records the document as staged via that run and writes nothing.
  Result<std::optional<std::string>> voucher_for(const RunRow& run,
                                                 const graph::GraphClient::StageInput& in) {
    auto candidates = store.query(
        "SELECT h.run_id FROM held_documents h JOIN live_runs r ON r.run_id = h.run_id"
        " WHERE h.doc_id = ?1 AND h.run_id <> ?2"
        " AND r.model = ?3 AND r.prompt_version = ?4 AND r.schema_version = ?5"
        " ORDER BY r.started_at, r.seq",
        {in.document.doc_id, run.run_id, run.model, run.prompt_version, run.schema_version});
    if (!candidates) return candidates.error();
    std::set<std::string> facts, ents;
    for (const auto& e : in.relations) facts.insert(e.fact_id);
    for (const auto& e : in.entities) ents.insert(e.entity_id);
    for (const auto& c : *candidates) {
      const std::string other = as_text(c[0]);
      auto their_facts = store.query(
          "SELECT fact_id FROM staged_facts WHERE run_id = ? AND doc_id = ?", {other, in.document.doc_id});
      auto their_ents = store.query(
          "SELECT DISTINCT entity_id FROM run_entities WHERE run_id = ? AND doc_id = ?",
          {other, in.document.doc_id});
      if (!their_facts) return their_facts.error();
      if (!their_ents) return their_ents.error();
      std::set<std::string> f, e;
      for (const auto& r : *their_facts) f.insert(as_text(r[0]));
      for (const auto& r : *their_ents) e.insert(as_text(r[0]));
      if (f == facts && e == ents) return std::optional<std::string>(other);
    }
    return std::optional<std::string>();
  }

  // Before `from` leaves the graph (its rollback), every document another live run
  // stages via `from` is staged as the earliest such run's own, and the others then go
  // via that heir: rolling back runs in any order leaves exactly the facts of the runs
  // still live. `doc_id` limits this to one document. Idempotent: a crash halfway leaves
  // heirs staged in Neo4j and the ledger unchanged, and the next rollback does it again.
  Status hand_over(const std::string& from, const std::optional<std::string>& doc_id) {
    auto rows = store.query(
        "SELECT rd.doc_id, rd.run_id FROM run_documents rd JOIN live_runs r ON r.run_id = rd.run_id"
        " WHERE rd.staged_via = ?1 AND rd.state = 'staged' AND (?2 IS NULL OR rd.doc_id = ?2)"
        " ORDER BY rd.doc_id, r.started_at, r.seq",
        {from, doc_id ? SqlValue(*doc_id) : SqlValue(std::monostate{})});
    if (!rows) return rows.error();
    std::map<std::string, std::vector<std::string>> docs_of_heir;  // heir -> documents
    std::string last_doc;
    for (const auto& r : *rows) {
      if (as_text(r[0]) == last_doc) continue;  // the earliest run inherits
      last_doc = as_text(r[0]);
      docs_of_heir[as_text(r[1])].push_back(last_doc);
    }
    for (const auto& [heir_id, doc_ids] : docs_of_heir) {
      auto heir = load_run(heir_id);
      if (!heir) return heir.error();
      const graph::RunInfo info = run_info(*heir);
      std::vector<graph::GraphClient::StageInput> inputs;
      for (const auto& d : doc_ids) {
        auto rec = registry::get_document(store, d);
        if (!rec) return rec.error();
        auto in = stage_input(*heir, from_record(*rec));
        if (!in) return in.error();
        inputs.push_back(std::move(*in));
      }
      auto results = graph().stage_documents(info, inputs, std::max(1, config.neo4j.concurrency));
      for (const auto& r : results) {
        if (!r) return r.error();  // nothing is rolled back before every heir holds its facts
      }
      if (auto s = store.transaction([&]() -> Status {
            for (std::size_t i = 0; i < inputs.size(); ++i) {
              const std::string& d = inputs[i].document.doc_id;
              if (auto x = record_staged(heir_id, inputs[i], results[i], nullptr); !x) return x;
              if (auto x = store.execute(
                      "UPDATE run_documents SET staged_via = ? WHERE doc_id = ? AND staged_via = ?",
                      {heir_id, d, from});
                  !x) {
                return x;
              }
              logger("run")->info("run={} doc={} handed over to run={}", from, d, heir_id);
            }
            return ok();
          });
          !s) {
        return s;
      }
    }
    return ok();
  }

  // Stages every resolved document of the run that is not staged yet, in batches whose
  // documents go to Neo4j config.neo4j.concurrency at a time (each in its own transaction);
  // the ledger records each batch's outcomes afterwards, on this thread. A crash between
  // the two leaves documents in the graph that the ledger calls unstaged: resuming stages
  // them again, which changes nothing (MERGE on ids).
  // kUnavailable or kUnauthorized stops after recording the batch (the ledger keeps
  // everything; resume stages the rest).
  // `restage` (replay): every document not rolled back is staged again, including those
  // already staged: as this run's own, or, when another live run vouches for it, as that
  // run's edges (so a replay restores the facts and the graph stays as staged first).
  Status stage_run(const RunRow& run,
                   const std::vector<std::pair<ingest::Document, std::string>>& docs,
                   RunReport* report, bool restage = false) {
    // The phase starts here, with the connection to Neo4j, not at the first batch staged.
    progress.update("stage", 0, static_cast<long>(docs.size()));
    if (auto s = graph().bootstrap_schema(); !s) return s;
    const graph::RunInfo info = run_info(run);
    const int concurrency = std::max(1, config.neo4j.concurrency);
    const std::size_t batch_size = static_cast<std::size_t>(concurrency) * 8;
    std::vector<graph::GraphClient::StageInput> batch;
    long done = 0;
    auto flush = [&]() -> Status {
      if (batch.empty()) return ok();
      auto results = graph().stage_documents(info, batch, concurrency);
      std::optional<Error> unavailable;
      // One ledger transaction for the whole batch: all its outcomes are recorded or none
      // (then resume stages the batch again, which changes nothing in Neo4j).
      Status recorded = store.transaction([&]() -> Status {
        for (std::size_t i = 0; i < batch.size(); ++i) {
          // Neo4j unreachable, or refusing our credentials: not this document's fault.
          if (!results[i] && (results[i].error().code == ErrorCode::kUnavailable ||
                              results[i].error().code == ErrorCode::kUnauthorized)) {
            if (!unavailable) unavailable = results[i].error();
            continue;  // stays 'resolved': the next run or resume stages it
          }
          if (results[i]) crash_point("stage");  // in Neo4j, not yet in the ledger
          if (auto s = record_staged(run.run_id, batch[i], results[i], report); !s) return s;
        }
        return ok();
      });
      if (!recorded) return recorded;
      done += static_cast<long>(batch.size());
      progress.update("stage", done, static_cast<long>(docs.size()));
      batch.clear();
      if (unavailable) return *unavailable;
      return ok();
    };
    for (const auto& [doc, state] : docs) {
      if ((state == "staged" && !restage) || is_rolled_back(state)) {  // replay revives first
        ++done;
        continue;
      }
      auto in = stage_input(run, doc);
      if (!in) return in.error();
      auto via = voucher_for(run, *in);
      if (!via) return via.error();
      if (*via) {
        logger("run")->info("run={} doc={} already staged by {}", run.run_id, doc.doc_id, **via);
        if (restage) {
          // A replay restores the facts whoever holds them: the voucher's own edges.
          auto holder = load_run(**via);
          if (!holder) return holder.error();
          auto theirs = stage_input(*holder, doc);
          if (!theirs) return theirs.error();
          auto staged = graph().stage_document(run_info(*holder), theirs->document,
                                               theirs->entities, theirs->relations);
          if (!staged) return staged.error();
        }
        if (auto s = store.transaction([&] {
              return record_staged(run.run_id, *in, graph::Counters{}, report, *via);
            });
            !s) {
          return s;
        }
        ++done;
        continue;
      }
      batch.push_back(std::move(*in));
      if (batch.size() >= batch_size) {
        if (auto s = flush(); !s) return s;
      }
    }
    if (auto s = flush(); !s) return s;
    progress.update("stage", static_cast<long>(docs.size()), static_cast<long>(docs.size()));
    return ok();
  }

  // ---------------------------------------------------------------- reporting
  Status fill_report(const std::string& run_id, RunReport& r) {
    auto run = load_run(run_id);
    if (!run) return run.error();
    r.run_id = run_id;
    r.lane = run->lane;
    r.model = run->model;
    r.state = run->state;
    auto inputs = store.query(
        "SELECT outcome, coalesce(reason_code, ''), count(*) FROM run_inputs WHERE run_id = ?"
        " GROUP BY outcome, reason_code",
        {run_id});
    if (!inputs) return inputs.error();
    for (const auto& row : *inputs) {
      std::string outcome = as_text(row[0]);
      std::int64_t count = as_int(row[2]);
      r.files_seen += count;
      if (outcome == "document") r.documents_parsed += count;
      if (outcome == "skipped") r.parts_skipped += count;
      if (outcome == "failed") r.files_failed_by_reason[as_text(row[1])] += count;
    }
    auto rec = extract::reconcile(store, run_id);
    if (!rec) return rec.error();
    r.requests_planned = rec->requests;
    r.requests_reused = rec->reused;
    r.requests_submitted = rec->submitted;
    r.requests_completed = rec->completed;
    r.requests_dead_lettered = rec->dead_lettered;
    r.requests_in_flight = rec->in_flight;
    r.attempts = rec->attempts;
    r.resubmitted = rec->resubmitted;
    r.failed_by_outcome = rec->failed_by_outcome;
    r.cost_usd = rec->cost_usd;
    r.usage.clear();
    for (const auto& u : rec->usage) {
      r.usage.push_back({u.lane, u.model, u.attempts, u.input_tokens, u.output_tokens, u.cost_usd});
    }
    auto dedup = store.query(
        "SELECT count(*) - count(DISTINCT custom_id) FROM run_requests WHERE run_id = ?", {run_id});
    if (dedup && !dedup->empty()) r.requests_deduplicated = as_int((*dedup)[0][0]);
    auto accepted = store.query("SELECT count(*) FROM verified_facts WHERE run_id = ?", {run_id});
    if (!accepted) return accepted.error();
    r.facts_accepted = as_int((*accepted)[0][0]);
    r.documents_by_extractor = rec->documents_by_extractor;
    r.documents_model_skipped = rec->documents_model_skipped;
    r.saved_usd = rec->saved_usd;
    r.facts_by_extractor.clear();
    auto by_request = store.query(
        "SELECT request_id, count(*) FROM verified_facts WHERE run_id = ? GROUP BY request_id", {run_id});
    if (!by_request) return by_request.error();
    for (const auto& row : *by_request) {
      r.facts_by_extractor[extractor_of(run_id, as_text(row[0]))] += as_int(row[1]);
    }
    auto dropped = store.query(
        "SELECT reason, count(*) FROM dropped_facts WHERE run_id = ? GROUP BY reason", {run_id});
    if (!dropped) return dropped.error();
    r.facts_dropped = 0;
    r.dropped_by_reason.clear();
    for (const auto& row : *dropped) {
      r.dropped_by_reason[as_text(row[0])] = as_int(row[1]);
      r.facts_dropped += as_int(row[1]);
    }
    auto leaks = store.query(
        "SELECT batch_id, own_doc_id, other_doc_id, quote FROM evidence_leaks WHERE run_id = ?"
        " ORDER BY request_id, kind, fact_index",
        {run_id});
    if (!leaks) return leaks.error();
    r.leak_alarms.clear();
    for (const auto& row : *leaks) {
      r.leak_alarms.push_back({as_text(row[0]), as_text(row[1]), as_text(row[2]), as_text(row[3])});
    }
    auto staged = store.query(
        "SELECT state, count(*) FROM run_documents WHERE run_id = ? GROUP BY state", {run_id});
    if (!staged) return staged.error();
    r.documents_staged = r.documents_stage_failed = 0;
    r.documents_rolled_back = r.documents_rolling_back = 0;
    for (const auto& row : *staged) {
      if (as_text(row[0]) == "staged") r.documents_staged = as_int(row[1]);
      if (as_text(row[0]) == "failed") r.documents_stage_failed = as_int(row[1]);
      if (as_text(row[0]) == "rolled_back") r.documents_rolled_back = as_int(row[1]);
      if (as_text(row[0]) == "rolling_back") r.documents_rolling_back = as_int(row[1]);
    }
    auto rels = store.query("SELECT count(*) FROM staged_facts WHERE run_id = ?", {run_id});
    if (rels && !rels->empty()) r.relations_staged = as_int((*rels)[0][0]);
    auto dead = extract::dead_letters(store, run_id);
    if (!dead) return dead.error();
    r.dead_letters.clear();
    for (const auto& d : *dead) {
      r.dead_letters.push_back({d.custom_id, d.doc_id, d.outcome, d.detail, d.attempts});
    }
    return ok();
  }
};

Coordinator::Coordinator(const Config& config, Store& store, HttpTransport& transport,
                         Clock& clock, Progress& progress)
    : impl_(std::make_unique<Impl>(config, store, transport, clock, progress)) {}
Coordinator::~Coordinator() = default;

Result<RunReport> Coordinator::run(const RunOptions& options) {
  Impl& m = *impl_;
  const Config& cfg = m.config;
  RunRow run;
  if (!options.resume_run_id.empty()) {
    auto existing = m.load_run(options.resume_run_id);
    if (!existing) return existing.error();
    run = *existing;
    if (run.state == "rolled_back") {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run.run_id + " was rolled back; use `fgraph replay " +
                            run.run_id + "` to stage it again");
    }
    if (run.state == "rolling_back") {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run.run_id + " is half rolled back; finish with `fgraph rollback " +
                            run.run_id + "`");
    }
    if (run.state == "budget_refused" && !options.budget_usd) {
      return make_error(ErrorCode::kInvalidInput,
                        "run " + run.run_id + " was refused by its budget and nothing was sent; "
                        "resume it only with a new budget: `fgraph run --resume " + run.run_id +
                            " --budget-usd AMOUNT`", "budget");
    }
  } else {
    if (options.drop.empty()) return make_error(ErrorCode::kInvalidInput, "no drop given");
    if (!std::filesystem::exists(options.drop)) {
      return make_error(ErrorCode::kInvalidInput, "drop not found: " + options.drop);
    }
    run.lane = cfg.lane;
    run.model = cfg.model.empty() ? default_model_for_lane(cfg.lane) : cfg.model;
    run.prompt_version = extract::bundled_prompt().prompt_version;
    run.schema_version = extract::bundled_prompt().schema_version;
    run.drop_path = options.drop;
    if (run.lane == "replay") {
      return make_error(ErrorCode::kInvalidInput,
                        "the replay lane has no drop: use `fgraph replay RUN_ID`");
    }
    // Before a run is recorded: an unpriced model on a paid lane would cost $0 (the
    // extractor checks again, for resumes).
    if (auto lane = extract::parse_lane(run.lane)) {
      if (auto s = extract::check_priced(*lane, run.model, &cfg.prices); !s) return s.error();
    }
  }

  if (options.dry_run) {
    ingest::ParseResult parsed =
        ingest::parse_paths({options.drop}, m.ingest_options(options.include_hidden));
    extract::Extractor extractor(m.store, m.transport, m.clock, m.extractor_options(run, false));
    auto plan = extractor.plan(parsed.documents);
    if (!plan) return plan.error();
    RunReport r;
    r.dry_run = true;
    r.lane = run.lane;
    r.model = run.model;
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
    return r;
  }

  if (options.resume_run_id.empty()) {
    run.run_id = "run-" + format_utc(m.clock.now()).substr(0, 19) + "-" + random_hex(3);
    std::replace(run.run_id.begin(), run.run_id.end(), ':', '-');
    json opts = {{"budget_usd", cfg.budget_usd ? json(*cfg.budget_usd) : json(nullptr)},
                 {"no_wait", options.no_wait}, {"include_hidden", options.include_hidden}};
    if (auto s = m.store.execute(
            "INSERT INTO runs(run_id, lane, model, prompt_version, schema_version, drop_path,"
            " state, options_json, started_at) VALUES(?,?,?,?,?,?, 'started', ?, ?)",
            {run.run_id, run.lane, run.model, run.prompt_version, run.schema_version,
             run.drop_path, dump_json(opts), now_utc(m.clock)});
        !s) {
      return s.error();
    }
    run.state = "started";
    logger("run")->info("run={} started lane={} model={}", run.run_id, run.lane, run.model);
    if (auto s = m.ingest_drop(run.run_id, run.drop_path, options.include_hidden); !s) {
      return s.error();
    }
    crash_point("after_ingest");
  }

  if (!options.resume_run_id.empty()) {
    // Killed before the drop's ingest committed (it is one transaction): ingest it now.
    auto inputs = m.store.query("SELECT count(*) FROM run_inputs WHERE run_id = ?", {run.run_id});
    if (!inputs) return inputs.error();
    if (as_int((*inputs)[0][0]) == 0 && !run.drop_path.empty()) {
      // With the run's own --include-hidden, as recorded when it started.
      auto recorded = m.recorded_options(run.run_id);
      if (!recorded) return recorded.error();
      auto hidden = recorded->find("include_hidden");
      const bool include_hidden =
          options.include_hidden ||
          (hidden != recorded->end() && hidden->is_boolean() && hidden->get<bool>());
      if (auto s = m.ingest_drop(run.run_id, run.drop_path, include_hidden); !s) return s.error();
    }
  }

  RunReport report;
  auto docs = m.run_documents(run.run_id);
  if (!docs) return docs.error();

  // Extract: plans, submits and collects (or resumes open batches).
  if (run.state == "started" || run.state == "submitted" || run.state == "budget_refused") {
    std::vector<ingest::Document> plain;
    for (const auto& [d, state] : *docs) {
      if (state == "parsed") plain.push_back(d);
    }
    auto budget = m.run_budget(run.run_id, options);
    if (!budget) return budget.error();
    extract::ExtractorOptions eo = m.extractor_options(run, options.no_wait);
    eo.budget_usd = *budget;
    extract::Extractor extractor(m.store, m.transport, m.clock, eo);
    auto rec = extractor.run(run.run_id, plain, [&](const extract::Progress& p) {
      m.progress.update("extract", p.completed + p.failed, p.submitted,
                        p.phase + (p.detail.empty() ? "" : " " + p.detail));
    });
    if (!rec) {
      bool waiting = options.no_wait && rec.error().code == ErrorCode::kTransient;
      // A refusal by the budget sent nothing; left `submitted`, a plain resume would spend.
      const bool refused = rec.error().detail == "budget";
      (void)m.set_run_state(run.run_id, refused ? "budget_refused" : "submitted", false);
      if (refused) {
        Error e = rec.error();
        e.message = "run " + run.run_id + " refused: " + e.message +
                    "; resume it with a new budget: `fgraph run --resume " + run.run_id +
                    " --budget-usd AMOUNT`";
        return e;
      }
      if (!waiting) return rec.error();
      if (auto s = m.fill_report(run.run_id, report); !s) return s.error();
      return report;
    }
    if (rec->in_flight > 0) {
      (void)m.set_run_state(run.run_id, "submitted", false);
      if (auto s = m.fill_report(run.run_id, report); !s) return s.error();
      return report;
    }
    (void)m.set_run_state(run.run_id, "extracted", false);
    run.state = "extracted";
  }

  if (run.state == "extracted") {
    if (auto s = m.verify_run(run.run_id, *docs); !s) return s.error();
    (void)m.set_run_state(run.run_id, "verified", false);
    run.state = "verified";
    docs = m.run_documents(run.run_id);
    if (!docs) return docs.error();
  }

  if (run.state == "verified" || run.state == "staged" || run.state == "finished") {
    if (auto s = m.resolve_run(run.run_id, *docs); !s) return s.error();
    Status staged = m.stage_run(run, *docs, &report);
    if (!staged) {
      logger("run")->error("run={} staging stopped: {}", run.run_id, staged.error().describe());
      return staged.error();
    }
    (void)m.set_run_state(run.run_id, "finished", true);
  }
  auto errors = report.stage_errors;
  if (auto s = m.fill_report(run.run_id, report); !s) return s.error();
  report.stage_errors = errors;
  return report;
}

Result<RunReport> Coordinator::report(const std::string& run_id) {
  RunReport r;
  if (auto s = impl_->fill_report(run_id, r); !s) return s.error();
  auto failed = impl_->store.query(
      "SELECT doc_id, coalesce(error, '') FROM run_documents WHERE run_id = ? AND state = 'failed'",
      {run_id});
  if (failed) {
    for (const auto& row : *failed) r.stage_errors.push_back(as_text(row[0]) + ": " + as_text(row[1]));
  }
  return r;
}

Result<std::vector<RunSummary>> Coordinator::runs() {
  auto rows = impl_->store.query(
      "SELECT r.run_id, r.lane, r.model, r.state, r.started_at, r.finished_at,"
      " (SELECT count(*) FROM run_documents d WHERE d.run_id = r.run_id)"
      " FROM runs r ORDER BY r.started_at, r.rowid");
  if (!rows) return rows.error();
  std::vector<RunSummary> out;
  for (const auto& row : *rows) {
    RunSummary s{as_text(row[0]), as_text(row[1]), as_text(row[2]), as_text(row[3]),
                 as_text(row[4]), std::nullopt, as_int(row[6])};
    if (!std::holds_alternative<std::monostate>(row[5])) s.finished_at = as_text(row[5]);
    out.push_back(std::move(s));
  }
  return out;
}

// Three stores change in turn (Neo4j, registry, ledger), so the ledger records the
// rollback as begun ('rolling_back') before the first and done ('rolled_back') after the
// last. Each step is idempotent, so `fgraph rollback` on a half-done rollback finishes it
// (and `fgraph replay` finishes it, then stages the run again). Nothing changes before
// Neo4j answers, and documents other live runs staged via this one are handed over first.
Status Coordinator::rollback(const std::string& run_id, const std::optional<std::string>& doc_id) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  auto tolerate_nothing = [](Status s) -> Status {
    return s || s.error().code == ErrorCode::kNotFound ? ok() : s;
  };
  if (doc_id) {
    auto present = m.store.query("SELECT state FROM run_documents WHERE run_id = ? AND doc_id = ?",
                                 {run_id, *doc_id});
    if (!present) return present.error();
    if (present->empty()) {
      return make_error(ErrorCode::kNotFound, "run " + run_id + " has no document " + *doc_id);
    }
  }
  if (auto up = m.graph().connect(); !up) return up.error();
  if (doc_id) {
    if (auto s = m.store.execute(
            "UPDATE run_documents SET state = 'rolling_back' WHERE run_id = ? AND doc_id = ?",
            {run_id, *doc_id});
        !s) {
      return s;
    }
    if (auto s = m.hand_over(run_id, doc_id); !s) return s;
    if (auto s = m.graph().rollback_document(*doc_id, run_id); !s) return s.error();
    crash_point("rollback_graph");
    if (auto s = tolerate_nothing(m.entities.rollback_document(run_id, *doc_id)); !s) return s;
    crash_point("rollback_registry");
    return m.store.transaction([&]() -> Status {
      for (const char* sql : {"DELETE FROM staged_facts WHERE run_id = ? AND doc_id = ?",
                              "DELETE FROM run_entities WHERE run_id = ? AND doc_id = ?",
                              "UPDATE run_documents SET state = 'rolled_back', staged_at = NULL,"
                              " staged_via = NULL WHERE run_id = ? AND doc_id = ?"}) {
        if (auto s = m.store.execute(sql, {run_id, *doc_id}); !s) return s;
      }
      return ok();
    });
  }
  if (auto s = m.set_run_state(run_id, "rolling_back", false); !s) return s;
  if (auto s = m.hand_over(run_id, std::nullopt); !s) return s;
  if (auto s = m.graph().rollback_run(run_id); !s) return s.error();
  crash_point("rollback_graph");
  if (auto s = tolerate_nothing(m.entities.rollback_run(run_id)); !s) return s;
  crash_point("rollback_registry");
  return m.store.transaction([&]() -> Status {
    for (const char* sql : {"DELETE FROM staged_facts WHERE run_id = ?",
                            "DELETE FROM run_entities WHERE run_id = ?",
                            "UPDATE run_documents SET state = 'rolled_back', staged_at = NULL,"
                            " staged_via = NULL WHERE run_id = ? AND state IN ('staged', 'verified',"
                            " 'failed', 'rolling_back')"}) {
      if (auto s = m.store.execute(sql, {run_id}); !s) return s;
    }
    return m.store.execute(
        "UPDATE runs SET state = 'rolled_back', finished_at = ? WHERE run_id = ?",
        {now_utc(m.clock), run_id});
  });
}

Result<RunReport> Coordinator::replay(const std::string& run_id) {
  Impl& m = *impl_;
  auto run = m.load_run(run_id);
  if (!run) return run.error();
  if (run->state != "rolled_back" && run->state != "rolling_back" && run->state != "finished" &&
      run->state != "verified" && run->state != "staged") {
    return make_error(ErrorCode::kInvalidInput,
                      "run " + run_id + " is " + run->state +
                          ": only a verified, finished or rolled-back run can be replayed");
  }
  // A half-done rollback (of the run, or of some of its documents) is finished first,
  // so that the replay starts from a known state: nothing of those documents anywhere.
  if (run->state == "rolling_back") {
    if (auto s = rollback(run_id, std::nullopt); !s) return s.error();
  } else {
    auto half = m.store.query(
        "SELECT doc_id FROM run_documents WHERE run_id = ? AND state = 'rolling_back'", {run_id});
    if (!half) return half.error();
    for (const auto& r : *half) {
      if (auto s = rollback(run_id, as_text(r[0])); !s) return s.error();
    }
  }
  if (auto s = m.store.execute(
          "UPDATE run_documents SET state = 'verified' WHERE run_id = ? AND state = 'rolled_back'",
          {run_id});
      !s) {
    return s.error();
  }
  auto docs = m.run_documents(run_id);
  if (!docs) return docs.error();
  RunReport report;
  if (auto s = m.resolve_run(run_id, *docs); !s) return s.error();
  if (auto s = m.stage_run(*run, *docs, &report, /*restage=*/true); !s) return s.error();
  (void)m.set_run_state(run_id, "finished", true);
  auto errors = report.stage_errors;
  if (auto s = m.fill_report(run_id, report); !s) return s.error();
  report.stage_errors = errors;
  return report;
}

// What the ledger says the graph holds: for each live run, each document it staged as
// its own (not via another run), the Document, Run and STAGED_BY, every entity it
// resolved with its MENTIONED_IN, and every staged fact with its provenance. Compared
// with Neo4j's inventory both ways, kind by kind.
Result<AuditReport> Coordinator::audit() {
  Impl& m = *impl_;
  AuditReport a;
  // Neo4j answers while the ledger side is read here.
  graph::GraphClient& graph = m.graph();
  auto graph_side = std::async(std::launch::async, [&graph] { return graph.inventory(); });

  graph::GraphInventory expected;
  // The documents live runs staged as their own (view held_documents, migration 0502),
  // and what each holds.
  const std::string own = "held_documents o";
  auto docs = m.store.query("SELECT o.run_id, o.doc_id FROM " + own);
  if (!docs) return docs.error();
  for (const auto& r : *docs) {
    expected.runs.insert(as_text(r[0]));
    expected.documents.insert(as_text(r[1]));
    expected.staged_by.emplace(as_text(r[1]), as_text(r[0]));
  }
  auto mentions = m.store.query("SELECT DISTINCT re.entity_id, re.doc_id, re.run_id FROM " + own +
                                " JOIN run_entities re ON re.run_id = o.run_id AND re.doc_id = o.doc_id");
  if (!mentions) return mentions.error();
  for (const auto& r : *mentions) {
    const std::string id = as_text(r[0]);
    expected.mentions.emplace(id, as_text(r[1]), as_text(r[2]));
    if (!expected.entities.count(id)) {
      auto identity = m.entities.identity(id);
      expected.entities[id] = identity ? graph::entity_label(identity->type) : "?";
    }
  }
  auto facts = m.store.query(
      "SELECT s.fact_id, s.run_id, s.rel_type, s.source_entity_id, s.target_entity_id, s.doc_id,"
      " s.evidence, s.char_start, s.char_end FROM " + own +
      " JOIN staged_facts s ON s.run_id = o.run_id AND s.doc_id = o.doc_id");
  if (!facts) return facts.error();
  for (const auto& r : *facts) {
    expected.facts[{as_text(r[0]), as_text(r[1])}] =
        graph::FactEdge{as_text(r[2]), as_text(r[3]), as_text(r[4]), as_text(r[5]),
                        as_text(r[6]), as_int(r[7]),  as_int(r[8])};
  }
  auto actual = graph_side.get();
  if (!actual) return actual.error();
  a.graph_facts = static_cast<std::int64_t>(actual->facts.size());
  a.ledger_facts = static_cast<std::int64_t>(expected.facts.size());
  graph::InventoryDiff diff = graph::diff_inventories(expected, *actual);

  // The ledger against itself: a document staged via a run that no longer holds it, and
  // a staged fact that verify never accepted.
  auto orphans = m.store.query(
      "SELECT rd.run_id, rd.doc_id, rd.staged_via FROM run_documents rd"
      " JOIN live_runs r ON r.run_id = rd.run_id WHERE rd.state = 'staged'"
      " AND rd.staged_via IS NOT NULL AND NOT EXISTS (SELECT 1 FROM held_documents h"
      "  WHERE h.run_id = rd.staged_via AND h.doc_id = rd.doc_id)");
  if (!orphans) return orphans.error();
  for (const auto& r : *orphans) {
    diff.note("staged_via", "missing",
              "document " + as_text(r[1]) + " of run " + as_text(r[0]) + " is staged via run " +
                  as_text(r[2]) + ", which does not hold it");
  }
  auto unfinished = m.store.query(
      "SELECT run_id, NULL FROM runs WHERE state = 'rolling_back' UNION ALL"
      " SELECT rd.run_id, rd.doc_id FROM run_documents rd JOIN runs r ON r.run_id = rd.run_id"
      " WHERE rd.state = 'rolling_back' AND r.state <> 'rolling_back'");
  if (!unfinished) return unfinished.error();
  for (const auto& r : *unfinished) {
    const bool whole_run = std::holds_alternative<std::monostate>(r[1]);
    diff.note("rolling_back", "unfinished",
              (whole_run ? "run " + as_text(r[0])
                         : "document " + as_text(r[1]) + " of run " + as_text(r[0])) +
                  " (finish it with `fgraph rollback`, or undo it with `fgraph replay`)");
  }
  auto unverified = m.store.query(
      "SELECT s.fact_id, s.run_id, s.doc_id FROM staged_facts s JOIN live_runs r"
      " ON r.run_id = s.run_id WHERE NOT EXISTS ("
      "  SELECT 1 FROM verified_facts v WHERE v.run_id = s.run_id AND v.doc_id = s.doc_id"
      "  AND v.kind = 'relation' AND v.evidence = s.evidence)");
  if (!unverified) return unverified.error();
  for (const auto& r : *unverified) {
    diff.note("verified_fact", "missing",
              "fact " + as_text(r[0]) + " (run " + as_text(r[1]) + ", doc " + as_text(r[2]) +
                  ") was staged but never accepted by verify");
  }
  a.counts = std::move(diff.counts);
  a.differences = std::move(diff.lines);
  return a;
}

Result<std::vector<std::vector<std::string>>> Coordinator::query(const std::string& cypher) {
  auto result = impl_->graph().run_read_query({cypher, "{}"});
  if (!result) return result.error();
  std::vector<std::vector<std::string>> rows;
  for (const auto& row_text : result->rows_json) {
    json row = json::parse(row_text, nullptr, false);
    std::vector<std::string> cells;
    if (row.is_array()) {
      for (const auto& cell : row) cells.push_back(cell.is_string() ? cell.get<std::string>() : dump_json(cell));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace fgraph::cli
