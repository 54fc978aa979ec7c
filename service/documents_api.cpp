#include "service/internal/documents_api.h"

#include "registry/registry.h"
#include "tools/json_output.h"
#include "verify/verify.h"

namespace fgraph::service {

using nlohmann::json;

namespace {

// A whole number in [lo, hi] from the query, `fallback` when absent.
Result<std::int64_t> number(const std::map<std::string, std::string>& query, const std::string& name,
                            std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(v) < lo || std::stoll(v) > hi) {
    return make_error(ErrorCode::kInvalidInput, name + " must be a whole number in " +
                                                    std::to_string(lo) + ".." + std::to_string(hi));
  }
  return std::stoll(v);
}

json drops_json(const verify::DropPage& page, std::int64_t page_number, std::int64_t per_page) {
  json list = json::array();
  for (const auto& d : page.drops) list.push_back(cli::drop_json(d));
  return {{"total", page.total}, {"page", page_number}, {"per_page", per_page}, {"dropped", list}};
}

}  // namespace

Result<json> documents_api(std::string_view op, LedgerContext& c, const run::Settings& settings,
                           const std::vector<std::string>& params,
                           const std::map<std::string, std::string>& query) {
  auto page = number(query, "page", 1, 1, 100000000);
  if (!page) return page.error();
  auto per_page = number(query, "per_page", op == "list_documents" ? 50 : 100, 1, 1000);
  if (!per_page) return per_page.error();
  const std::int64_t offset = (*page - 1) * *per_page;
  run::Coordinator coordinator(settings, *c.store, *c.transport, c.clock, c.progress);
  const std::string& run_id = params.at(0);

  if (op == "list_documents") {
    auto docs = coordinator.documents(run_id, offset, *per_page);
    if (!docs) return docs.error();
    json list = json::array();
    for (const auto& d : docs->documents) list.push_back(cli::run_document_json(d));
    return json{{"run_id", run_id}, {"total", docs->total}, {"page", *page},
                {"per_page", *per_page}, {"documents", list}};
  }

  verify::DropQuery q;
  q.run_id = run_id;
  q.offset = offset;
  q.limit = *per_page;
  if (op == "list_dropped") {
    if (auto r = coordinator.report(run_id); !r) return r.error();
    if (auto it = query.find("reason"); it != query.end() && !it->second.empty()) q.reason = it->second;
    if (auto it = query.find("doc_id"); it != query.end() && !it->second.empty()) q.doc_id = it->second;
    auto drops = verify::recorded_drops(*c.store, q);
    if (!drops) return drops.error();
    json j = drops_json(*drops, *page, *per_page);
    j["run_id"] = run_id;
    return j;
  }

  // get_document: its text, its accepted facts, a page of its dropped facts.
  const std::string& doc_id = params.at(1);
  auto facts = coordinator.document_facts(run_id, doc_id);
  if (!facts) return facts.error();
  auto doc = registry::get_document(*c.store, doc_id);
  if (!doc) return doc.error();
  q.doc_id = doc_id;
  auto drops = verify::recorded_drops(*c.store, q);
  if (!drops) return drops.error();
  json fact_list = json::array();
  for (const auto& f : *facts) fact_list.push_back(cli::document_fact_json(f));
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  return json{{"run_id", run_id},
              {"doc_id", doc->doc_id},
              {"source", doc->source},
              {"format", doc->format},
              {"form_type", opt(doc->form_type)},
              {"cik", opt(doc->cik)},
              {"company", opt(doc->company)},
              {"accession", opt(doc->accession)},
              {"filed_at", opt(doc->filed_at)},
              {"text", doc->text},
              {"facts", fact_list},
              {"dropped", drops_json(*drops, *page, *per_page)}};
}

}  // namespace fgraph::service
