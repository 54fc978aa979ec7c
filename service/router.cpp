#include "service/internal/router.h"

#include <algorithm>

#include "service/internal/http.h"

namespace fgraph::service {

using nlohmann::json;

const std::vector<Route>& routes() {
  static const std::vector<Route> kRoutes = {
      {"GET", "/healthz", "healthz", "Liveness: answers while the service runs", false,
       BodyKind::kNone, 200},
      {"GET", "/v1/runs", "list_runs", "Every run with its state (as `fgraph runs --json`)"},
      {"POST", "/v1/runs", "start_run",
       "Start a run of a drop under the drops root; answers once the run is recorded. Body: "
       "drop, and optional lane, model, budget_usd, tags {k: v}, on_failure (continue|halt) "
       "and canary (share 0..1, 0 = none), as the options of `fgraph run`",
       true, BodyKind::kJson, 202},
      {"GET", "/v1/runs/{id}", "get_run",
       "A run's reconciliation (as `fgraph status RUN_ID --json`)"},
      {"GET", "/v1/runs/{id}/documents", "list_documents",
       "A page of a run's documents with their state and fact counts", true, BodyKind::kNone,
       200, "application/json", "page,per_page"},
      {"GET", "/v1/runs/{id}/documents/{doc_id}", "get_document",
       "A document of a run: its text, accepted facts (with offsets and registry entities) and "
       "a page of its dropped facts",
       true, BodyKind::kNone, 200, "application/json", "page,per_page"},
      {"GET", "/v1/runs/{id}/dropped", "list_dropped",
       "A page of a run's dropped facts, by reason or document", true, BodyKind::kNone, 200,
       "application/json", "reason,doc_id,page,per_page"},
      {"POST", "/v1/runs/{id}/rollback", "rollback_run",
       "Roll back a run, or one document of it (body {\"doc_id\"}, optional)", true,
       BodyKind::kOptionalJson, 200},
      {"POST", "/v1/runs/{id}/replay", "replay_run",
       "Stage a run again from the ledger, without model calls", true, BodyKind::kOptionalJson,
       200},
      {"PUT", "/v1/drops/{drop}/{file}", "upload_file",
       "Upload one filing into a drop under the drops root (streamed to disk)", true,
       BodyKind::kUpload, 201},
      {"GET", "/v1/registry/entities", "find_entities",
       "Ranked candidates for a name, CIK, LEI or ticker (as `fgraph registry find --json`)",
       true, BodyKind::kNone, 200, "application/json", "q!,type,limit"},
      {"GET", "/v1/registry/entities/{id}", "get_entity",
       "An entity with aliases, mentions and merges (as `fgraph registry show --json`)"},
      {"GET", "/v1/registry/entities/{id}/history", "entity_history",
       "The journal entries of an entity (as `fgraph registry history --json`)"},
      {"POST", "/v1/registry/merges", "merge_entities",
       "Merge entity b into a (body {\"a\", \"b\"})", true, BodyKind::kJson, 201},
      {"DELETE", "/v1/registry/merges/{id}", "unmerge", "Undo a merge exactly"},
      {"GET", "/v1/audit", "audit",
       "Compare Neo4j with the ledger (as `fgraph audit --json`)"},
      {"GET", "/v1/alerts", "list_alerts", "The open alerts"},
      {"GET", "/metrics", "metrics", "Prometheus metrics", true, BodyKind::kNone, 200,
       "text/plain; version=0.0.4"},
      {"GET", "/v1/openapi.json", "openapi", "This document"},
  };
  return kRoutes;
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

RouteMatch match_route(const std::vector<Route>& table, std::string_view method,
                       std::string_view path) {
  RouteMatch m;
  const auto segments = split_path(path);
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto pattern = split_path(table[i].pattern);
    if (pattern.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool fits = true;
    for (std::size_t k = 0; k < pattern.size() && fits; ++k) {
      if (is_param(pattern[k])) {
        if (segments[k].empty()) {
          fits = false;
          break;
        }
        auto decoded = percent_decode(segments[k]);
        if (!decoded) {
          m.bad_encoding = true;
          fits = false;
          break;
        }
        params.push_back(std::move(*decoded));
      } else {
        fits = pattern[k] == segments[k];
      }
    }
    if (!fits) continue;
    if (table[i].method == method) {
      m.route = static_cast<int>(i);
      m.params = std::move(params);
      m.allow.clear();
      m.bad_encoding = false;
      return m;
    }
    m.allow.emplace_back(table[i].method);
  }
  return m;
}

json openapi_document(const std::vector<Route>& table, std::string_view version) {
  json error_ref = {{"$ref", "#/components/schemas/Error"}};
  json paths = json::object();
  for (const Route& r : table) {
    json op = {{"operationId", r.operation_id}, {"summary", r.summary}};
    if (!r.auth) op["security"] = json::array();
    json params = json::array();
    for (auto seg : split_path(r.pattern)) {
      if (!is_param(seg)) continue;
      params.push_back({{"name", seg.substr(1, seg.size() - 2)}, {"in", "path"},
                        {"required", true}, {"schema", {{"type", "string"}}}});
    }
    std::string_view q = r.query;
    while (!q.empty()) {
      auto comma = q.find(',');
      std::string_view name = q.substr(0, comma);
      q = comma == std::string_view::npos ? std::string_view() : q.substr(comma + 1);
      const bool required = name.ends_with('!');
      if (required) name.remove_suffix(1);
      params.push_back({{"name", name}, {"in", "query"}, {"required", required},
                        {"schema", {{"type", name == "limit" || name == "page" || name == "per_page" ? "integer" : "string"}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (r.body == BodyKind::kJson || r.body == BodyKind::kOptionalJson) {
      op["requestBody"] = {{"required", r.body == BodyKind::kJson},
                           {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    } else if (r.body == BodyKind::kUpload) {
      op["requestBody"] = {
          {"required", true},
          {"content",
           {{"application/octet-stream", {{"schema", {{"type", "string"}, {"format", "binary"}}}}}}}};
    }
    std::string ct(r.content_type.substr(0, r.content_type.find(';')));
    json ok_schema = ct == "application/json" ? json{{"type", "object"}} : json{{"type", "string"}};
    op["responses"] = {
        {std::to_string(r.status), {{"description", "success"}, {"content", {{ct, {{"schema", ok_schema}}}}}}},
        {"default", {{"description", "an error"}, {"content", {{"application/json", {{"schema", error_ref}}}}}}}};
    std::string method(r.method);
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    paths[std::string(r.pattern)][method] = op;
  }
  return {
      {"openapi", "3.1.0"},
      {"info", {{"title", "fgraph service"}, {"version", version}}},
      {"security", json::array({{{"bearer", json::array()}}})},
      {"paths", paths},
      {"components",
       {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
        {"schemas",
         {{"Error",
           {{"type", "object"},
            {"required", {"error"}},
            {"properties",
             {{"error",
               {{"type", "object"},
                {"required", {"code", "message"}},
                {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}}}}}}},
  };
}

}  // namespace fgraph::service
