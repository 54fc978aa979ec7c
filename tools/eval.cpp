#include "tools/eval.h"

#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "ingest/ingest.h"
#include "verify/verify.h"

namespace fgraph::cli {
namespace {

using nlohmann::json;

std::string name_key(std::string_view s) {
  std::string k;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return k;
}

bool same_document(const GoldFact& g, const SystemFact& s) {
  if (g.part && *g.part != s.part) return false;
  const std::string& p = s.source_path;
  return p == g.document ||
         (p.size() > g.document.size() && p.ends_with(g.document) &&
          p[p.size() - g.document.size() - 1] == '/');
}

bool same_fact(const GoldFact& g, const SystemFact& s) {
  return g.type == s.type && same_document(g, s) && name_key(g.source) == name_key(s.source) &&
         name_key(g.target) == name_key(s.target);
}

std::optional<std::string> opt_text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The accepted relations of one verdict (its entities give the names of their ends; an
// end that is the document's filer, verify::kFilerRef, is named by `filer`).
void relations_of(const verify::RowVerdict& v, const std::string& source_path, int part,
                  const std::string& extractor, const std::string& filer,
                  std::vector<SystemFact>& out) {
  std::map<std::string, std::string> names;
  names[std::string(verify::kFilerRef)] = filer;
  for (const auto& e : v.entities) names[e.local_id] = e.name;
  for (const auto& r : v.relations) {
    out.push_back(SystemFact{source_path, part, r.type, names[r.source_local_id],
                             names[r.target_local_id], extractor});
  }
}

}  // namespace

double Score::precision() const {
  auto proposed = true_positives + false_positives;
  return proposed == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(proposed);
}

double Score::recall() const {
  auto truth = true_positives + false_negatives;
  return truth == 0 ? 1.0 : static_cast<double>(true_positives) / static_cast<double>(truth);
}

Result<std::vector<GoldFact>> parse_gold(std::string_view jsonl) {
  std::vector<GoldFact> out;
  std::size_t start = 0;
  int line_no = 0;
  while (start < jsonl.size()) {
    std::size_t nl = jsonl.find('\n', start);
    if (nl == std::string_view::npos) nl = jsonl.size();
    std::string_view line = jsonl.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, false);
    auto bad = [&](const std::string& why) {
      return make_error(ErrorCode::kInvalidInput, "gold line " + std::to_string(line_no) + ": " + why);
    };
    if (!j.is_object()) return bad("not a JSON object");
    GoldFact g;
    for (auto [key, field] : {std::pair{"document", &g.document}, std::pair{"type", &g.type},
                              std::pair{"source", &g.source}, std::pair{"target", &g.target}}) {
      auto v = opt_text(j, key);
      if (!v || v->empty()) return bad(std::string("\"") + key + "\" must be a non-empty string");
      *field = *v;
    }
    if (auto p = j.find("part"); p != j.end() && !p->is_null()) {
      if (!p->is_number_integer()) return bad("\"part\" must be an integer");
      g.part = p->get<int>();
    }
    g.source_cik = opt_text(j, "source_cik");
    g.target_cik = opt_text(j, "target_cik");
    out.push_back(std::move(g));
  }
  return out;
}

EvalReport evaluate(const std::vector<GoldFact>& gold, const std::vector<SystemFact>& system) {
  EvalReport r;
  std::vector<const SystemFact*> scored;
  for (const auto& s : system) {
    for (const auto& g : gold) {
      if (same_document(g, s)) {
        scored.push_back(&s);
        break;
      }
    }
  }
  std::set<std::string> extractors;
  for (const SystemFact* s : scored) extractors.insert(s->extractor);
  std::vector<bool> found(gold.size(), false);
  std::set<std::pair<std::size_t, std::string>> found_by;  // (gold index, extractor)
  std::set<std::string> seen;  // a fact proposed twice (two chunks, two extractors) counts once
  for (const SystemFact* s : scored) {
    bool hit = false;
    for (std::size_t i = 0; i < gold.size(); ++i) {
      if (!same_fact(gold[i], *s)) continue;
      hit = true;
      if (found_by.emplace(i, s->extractor).second) ++r.by_extractor[s->extractor].true_positives;
      found[i] = true;
    }
    if (hit) continue;
    ++r.by_extractor[s->extractor].false_positives;
    std::string key = s->source_path + '\x1f' + std::to_string(s->part) + '\x1f' + s->type + '\x1f' +
                      name_key(s->source) + '\x1f' + name_key(s->target);
    if (!seen.insert(key).second) continue;
    ++r.overall.false_positives;
    ++r.by_type[s->type].false_positives;
    r.extras.push_back(*s);
  }
  for (std::size_t i = 0; i < gold.size(); ++i) {
    Score& t = r.by_type[gold[i].type];
    if (found[i]) {
      ++r.overall.true_positives;
      ++t.true_positives;
    } else {
      ++r.overall.false_negatives;
      ++t.false_negatives;
      r.misses.push_back(gold[i]);
    }
    for (const auto& x : extractors) {
      if (!found_by.count({i, x})) ++r.by_extractor[x].false_negatives;
    }
  }
  return r;
}

Result<std::vector<SystemFact>> run_facts(registry::Store& store, const std::string& run_id) {
  auto requests = extract::run_requests(store, run_id);
  if (!requests) return requests.error();
  if (requests->empty()) return make_error(ErrorCode::kNotFound, "no requests for run " + run_id);
  std::map<std::string, std::string> extractor_of;
  std::set<std::string> doc_ids;
  for (const auto& q : *requests) {
    extractor_of[q.custom_id] = q.extractor;
    doc_ids.insert(q.doc_id);
  }
  std::vector<SystemFact> out;
  for (const auto& doc_id : doc_ids) {
    auto doc = registry::get_document(store, doc_id);
    if (!doc) return doc.error();
    auto facts = verify::recorded_facts(store, run_id, doc_id);
    if (!facts) return facts.error();
    // Local ids are unique per request (the row key of the verdict).
    std::map<std::pair<std::string, std::string>, std::string> names;
    for (const auto& [request, e] : facts->entities) names[{request, e.local_id}] = e.name;
    for (const auto& [request, r] : facts->relations) {
      names.emplace(std::make_pair(request, std::string(verify::kFilerRef)), doc->company.value_or(""));
      auto ex = extractor_of.find(request.substr(0, request.find('@')));
      out.push_back(SystemFact{doc->source, doc->part, r.type, names[{request, r.source_local_id}],
                               names[{request, r.target_local_id}],
                               ex == extractor_of.end() ? "model" : ex->second});
    }
  }
  return out;
}

Result<std::vector<SystemFact>> form_facts(const std::vector<GoldFact>& gold, const std::string& root) {
  auto verifier = verify::Verifier::create(verify::extraction_schema_v1());
  if (!verifier) return verifier.error();
  std::set<std::string> paths;
  for (const auto& g : gold) paths.insert(g.document);
  std::vector<SystemFact> out;
  for (const auto& rel : paths) {
    const std::string path = root.empty() ? rel : root + "/" + rel;
    auto parsed = ingest::parse_file(path);
    if (!parsed.failures.empty()) {
      return make_error(ErrorCode::kInvalidInput, path + ": " + parsed.failures.front().error.message);
    }
    for (const auto& doc : parsed.documents) {
      auto form = extract::extract_form(doc);
      if (!form || form->kind == extract::FormKind::kNone) continue;
      auto verdict = verifier->verify(verify::prepare_document(doc), form->output_json);
      relations_of(verdict, rel, doc.part, "rules", doc.company.value_or(""), out);
    }
  }
  return out;
}

}  // namespace fgraph::cli
