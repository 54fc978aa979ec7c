#include "graph/internal/neo4j_http.h"

#include <algorithm>

namespace fgraph::graph {

Neo4jErrorClass classify_neo4j_code(std::string_view code) {
  auto starts = [&](std::string_view p) { return code.substr(0, p.size()) == p; };
  if (starts("Neo.TransientError.")) return Neo4jErrorClass::kTransient;
  if (starts("Neo.ClientError.")) return Neo4jErrorClass::kClient;
  if (starts("Neo.DatabaseError.")) return Neo4jErrorClass::kDatabase;
  return Neo4jErrorClass::kUnknown;
}

ErrorCode error_code_for_neo4j(std::string_view code) {
  // Wrong credentials, a locked account, a password to change, missing privileges: the
  // configuration must change (CLI exit 2), nothing is retried.
  if (code.substr(0, 24) == "Neo.ClientError.Security") return ErrorCode::kUnauthorized;
  switch (classify_neo4j_code(code)) {
    case Neo4jErrorClass::kTransient: return ErrorCode::kTransient;
    case Neo4jErrorClass::kClient: return ErrorCode::kPermanent;
    case Neo4jErrorClass::kDatabase:
    case Neo4jErrorClass::kUnknown: return ErrorCode::kInternal;
  }
  return ErrorCode::kInternal;
}

Counters& Counters::operator+=(const Counters& o) {
  nodes_created += o.nodes_created;
  nodes_deleted += o.nodes_deleted;
  relationships_created += o.relationships_created;
  relationships_deleted += o.relationships_deleted;
  properties_set += o.properties_set;
  labels_added += o.labels_added;
  return *this;
}

namespace internal {
namespace {

using nlohmann::json;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::int64_t int_field(const json& o, const char* key) {
  auto it = o.find(key);
  return (it != o.end() && it->is_number_integer()) ? it->get<std::int64_t>() : 0;
}

// The counter names of each API: Query API v2 (camelCase) and legacy stats (snake_case;
// note the singular `relationship_deleted`), in the order of Counters' fields.
struct CounterNames {
  const char* nodes_created;
  const char* nodes_deleted;
  const char* relationships_created;
  const char* relationships_deleted;
  const char* properties_set;
  const char* labels_added;
};
constexpr CounterNames kV2Counters{"nodesCreated", "nodesDeleted", "relationshipsCreated",
                                   "relationshipsDeleted", "propertiesSet", "labelsAdded"};
constexpr CounterNames kLegacyCounters{"nodes_created", "nodes_deleted", "relationships_created",
                                       "relationship_deleted", "properties_set", "labels_added"};

// Reads the counters object `key` of `holder` ("counters" in v2, "stats" in legacy).
Counters read_counters(const json& holder, const char* key, const CounterNames& n) {
  Counters c;
  auto it = holder.find(key);
  if (it == holder.end() || !it->is_object()) return c;
  c.nodes_created = int_field(*it, n.nodes_created);
  c.nodes_deleted = int_field(*it, n.nodes_deleted);
  c.relationships_created = int_field(*it, n.relationships_created);
  c.relationships_deleted = int_field(*it, n.relationships_deleted);
  c.properties_set = int_field(*it, n.properties_set);
  c.labels_added = int_field(*it, n.labels_added);
  return c;
}

WireResult result_v2(const json& body) {
  WireResult r;
  r.counters = read_counters(body, "counters", kV2Counters);
  if (auto p = body.find("queryPlan"); p != body.end() && p->is_object()) r.plan = *p;
  if (auto d = body.find("data"); d != body.end() && d->is_object()) {
    if (auto v = d->find("values"); v != d->end() && v->is_array()) r.rows = *v;
  }
  return r;
}

WireResult result_legacy(const json& result) {
  WireResult r;
  r.counters = read_counters(result, "stats", kLegacyCounters);
  if (auto p = result.find("plan"); p != result.end() && p->is_object()) {
    if (auto root = p->find("root"); root != p->end() && root->is_object()) r.plan = *root;
  }
  if (auto d = result.find("data"); d != result.end() && d->is_array()) {
    for (const auto& row : *d) {
      if (auto it = row.find("row"); it != row.end()) r.rows.push_back(*it);
    }
  }
  return r;
}

json v2_body(const WireStatement& s, AccessMode mode = AccessMode::kWrite) {
  json body{{"statement", s.cypher}, {"parameters", s.parameters}, {"includeCounters", true}};
  if (mode == AccessMode::kRead) body["accessMode"] = "Read";
  return body;
}

void add_operators(const json& op, std::vector<PlanOperator>& out) {
  if (!op.is_object()) return;
  PlanOperator o;
  if (auto t = op.find("operatorType"); t != op.end() && t->is_string()) o.type = t->get<std::string>();
  const json* holder = &op;
  if (auto a = op.find("arguments"); a != op.end() && a->is_object()) holder = &*a;
  if (auto d = holder->find("Details"); d != holder->end() && d->is_string()) {
    o.details = d->get<std::string>();
  }
  out.push_back(std::move(o));
  if (auto c = op.find("children"); c != op.end() && c->is_array()) {
    for (const auto& child : *c) add_operators(child, out);
  }
}

json legacy_statement(const WireStatement& s) {
  return json{{"statement", s.cypher}, {"parameters", s.parameters}, {"includeStats", true}};
}

}  // namespace

std::vector<PlanOperator> plan_operators(const json& plan) {
  std::vector<PlanOperator> out;
  add_operators(plan, out);
  return out;
}

Result<std::string> dump_json(const json& value) {
  try {
    return value.dump();
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kInvalidInput, std::string("value is not valid UTF-8: ") + e.what());
  }
}

Neo4jHttp::Neo4jHttp(const Neo4jOptions& options, HttpTransport& transport)
    : options_(options), transport_(transport) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
  authorization_ = "Basic " + base64(options_.user + ":" + options_.password);
}

std::string Neo4jHttp::db_url() const { return options_.url + "/db/" + options_.database; }

HttpRequest Neo4jHttp::make_request(std::string method, std::string url, std::string body) const {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.body = std::move(body);
  r.headers = {{"Accept", "application/json"}, {"Authorization", authorization_}};
  if (r.method != "GET" && r.method != "DELETE") r.headers.emplace_back("Content-Type", "application/json");
  r.timeout = options_.request_timeout;
  r.connect_timeout = options_.connect_timeout;
  return r;
}

Result<json> Neo4jHttp::exchange(const HttpRequest& request, int* status_out,
                                 HttpResponse* response_out) {
  auto sent = transport_.send(request);
  if (!sent) {
    Error e = sent.error();
    e.message = "neo4j: " + e.message;  // the transport's message names the method and URL
    return e;
  }
  const HttpResponse& resp = *sent;
  if (status_out) *status_out = resp.status;
  json body = json::object();
  if (!resp.body.empty()) {
    body = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      if (resp.status >= 200 && resp.status < 300) {
        return make_error(ErrorCode::kInternal, "neo4j answered unreadable JSON (HTTP " +
                                                    std::to_string(resp.status) + ")");
      }
      body = json::object();
    }
  }
  // The body's errors decide, whatever the status: streamed failures come with 200/202.
  if (auto errs = body.find("errors"); body.is_object() && errs != body.end() &&
                                       errs->is_array() && !errs->empty()) {
    const json& first = (*errs)[0];
    std::string code = first.value("code", std::string("Neo.DatabaseError.General.UnknownError"));
    std::string message = first.value("message", std::string());
    if (message.size() > 300) message.resize(300);
    return make_error(error_code_for_neo4j(code), "neo4j: " + message, code);
  }
  if (resp.status < 200 || resp.status >= 300) {
    return make_error(classify_http_status(resp.status),
                      "neo4j " + request.method + " answered HTTP " + std::to_string(resp.status));
  }
  if (response_out) *response_out = resp;
  return body;
}

Result<ServerInfo> Neo4jHttp::connect() {
  {
    std::lock_guard lock(mu_);
    if (info_) return *info_;
  }
  HttpRequest r;
  r.method = "GET";
  r.url = options_.url + "/";
  r.headers = {{"Accept", "application/json"}};
  r.timeout = options_.request_timeout;
  r.connect_timeout = options_.connect_timeout;
  auto body = exchange(r);
  if (!body) return body.error();
  ServerInfo info;
  info.version = body->value("neo4j_version", std::string());
  info.edition = body->value("neo4j_edition", std::string());
  info.has_query_api = body->contains("query");
  if (!body->contains("transaction") && !info.has_query_api) {
    return make_error(ErrorCode::kPermanent, "neo4j discovery offers no HTTP query endpoint");
  }
  switch (options_.api) {
    case Neo4jApi::kAuto:
      info.api_in_use = info.has_query_api ? Neo4jApi::kQueryV2 : Neo4jApi::kLegacy;
      break;
    case Neo4jApi::kQueryV2:
      if (!info.has_query_api) {
        return make_error(ErrorCode::kPermanent, "neo4j server does not offer the Query API");
      }
      info.api_in_use = Neo4jApi::kQueryV2;
      break;
    case Neo4jApi::kLegacy: info.api_in_use = Neo4jApi::kLegacy; break;
  }
  std::lock_guard lock(mu_);
  info_ = info;
  return info;
}

Result<std::vector<WireResult>> Neo4jHttp::transaction_once(
    const std::vector<WireStatement>& statements) {
  auto info = connect();
  if (!info) return info.error();
  return info->api_in_use == Neo4jApi::kQueryV2 ? query_v2_tx(statements) : legacy_tx(statements);
}

Result<std::vector<WireResult>> Neo4jHttp::query_v2_tx(const std::vector<WireStatement>& statements) {
  const std::string base = db_url() + "/query/v2/tx";
  std::vector<WireResult> results;
  // The first statement rides on the begin request, the last on the commit request.
  std::string begin_body = "{}";
  if (!statements.empty()) {
    auto b = dump_json(v2_body(statements.front()));
    if (!b) return b.error();
    begin_body = std::move(*b);
  }
  HttpResponse begin_resp;
  auto begun = exchange(make_request("POST", base, std::move(begin_body)), nullptr, &begin_resp);
  if (!begun) return begun.error();
  std::string tx_id;
  if (auto t = begun->find("transaction"); t != begun->end() && t->is_object()) {
    tx_id = t->value("id", std::string());
  }
  if (tx_id.empty()) return make_error(ErrorCode::kInternal, "neo4j began no transaction");
  const std::optional<std::string> affinity = begin_resp.header("neo4j-cluster-affinity");
  if (!statements.empty()) results.push_back(result_v2(*begun));

  auto request_for = [&](std::string method, std::string url, std::string body) {
    HttpRequest r = make_request(std::move(method), std::move(url), std::move(body));
    if (affinity) r.headers.emplace_back("neo4j-cluster-affinity", *affinity);
    return r;
  };
  auto fail = [&](Error e) -> Error {
    // The server already dropped the transaction on a Neo4j error; an explicit rollback
    // covers transport failures and errors of our own. Its outcome does not matter.
    (void)transport_.send(request_for("DELETE", base + "/" + tx_id, ""));
    return e;
  };

  for (std::size_t i = 1; i + 1 < statements.size(); ++i) {
    auto b = dump_json(v2_body(statements[i]));
    if (!b) return fail(b.error());
    auto r = exchange(request_for("POST", base + "/" + tx_id, std::move(*b)));
    if (!r) return fail(r.error());
    results.push_back(result_v2(*r));
  }
  std::string commit_body = "{}";
  if (statements.size() >= 2) {
    auto b = dump_json(v2_body(statements.back()));
    if (!b) return fail(b.error());
    commit_body = std::move(*b);
  }
  auto committed = exchange(request_for("POST", base + "/" + tx_id + "/commit", std::move(commit_body)));
  if (!committed) return fail(committed.error());
  if (statements.size() >= 2) results.push_back(result_v2(*committed));
  return results;
}

Result<std::vector<WireResult>> Neo4jHttp::legacy_tx(const std::vector<WireStatement>& statements) {
  const std::string base = db_url() + "/tx";
  json body = {{"statements", json::array()}};
  for (const auto& s : statements) body["statements"].push_back(legacy_statement(s));
  auto text = dump_json(body);
  if (!text) return text.error();
  HttpResponse begin_resp;
  auto begun = exchange(make_request("POST", base, std::move(*text)), nullptr, &begin_resp);
  std::string tx_id;
  // The id is the path segment before /commit (or the Location header's last segment).
  auto id_from = [](const std::string& url, bool strip_commit) {
    std::string u = url;
    if (strip_commit && u.size() > 7 && u.compare(u.size() - 7, 7, "/commit") == 0) u.resize(u.size() - 7);
    auto slash = u.rfind('/');
    return slash == std::string::npos ? std::string() : u.substr(slash + 1);
  };
  if (begun) {
    if (auto c = begun->find("commit"); c != begun->end() && c->is_string()) {
      tx_id = id_from(c->get<std::string>(), true);
    }
  }
  if (tx_id.empty()) {
    if (auto loc = begin_resp.header("location")) tx_id = id_from(*loc, false);
  }
  if (!begun) {
    if (!tx_id.empty()) (void)transport_.send(make_request("DELETE", base + "/" + tx_id, ""));
    return begun.error();
  }
  if (tx_id.empty()) return make_error(ErrorCode::kInternal, "neo4j began no transaction");
  std::vector<WireResult> results;
  if (auto rs = begun->find("results"); rs != begun->end() && rs->is_array()) {
    for (const auto& r : *rs) results.push_back(result_legacy(r));
  }
  if (results.size() != statements.size()) {
    (void)transport_.send(make_request("DELETE", base + "/" + tx_id, ""));
    return make_error(ErrorCode::kInternal, "neo4j returned fewer results than statements");
  }
  auto committed = exchange(make_request("POST", base + "/" + tx_id + "/commit", R"({"statements":[]})"));
  if (!committed) {
    (void)transport_.send(make_request("DELETE", base + "/" + tx_id, ""));
    return committed.error();
  }
  return results;
}

Result<WireResult> Neo4jHttp::auto_commit(const WireStatement& statement, AccessMode mode) {
  auto info = connect();
  if (!info) return info.error();
  if (info->api_in_use == Neo4jApi::kQueryV2) {
    auto b = dump_json(v2_body(statement, mode));
    if (!b) return b.error();
    auto r = exchange(make_request("POST", db_url() + "/query/v2", std::move(*b)));
    if (!r) return r.error();
    return result_v2(*r);
  }
  auto b = dump_json(json{{"statements", json::array({legacy_statement(statement)})}});
  if (!b) return b.error();
  HttpRequest request = make_request("POST", db_url() + "/tx/commit", std::move(*b));
  // The header applies to the transaction a request begins (here the whole of it).
  if (mode == AccessMode::kRead) request.headers.emplace_back("access-mode", "READ");
  auto r = exchange(request);
  if (!r) return r.error();
  auto rs = r->find("results");
  if (rs == r->end() || !rs->is_array() || rs->empty()) {
    return make_error(ErrorCode::kInternal, "neo4j returned no result");
  }
  return result_legacy((*rs)[0]);
}

}  // namespace internal
}  // namespace fgraph::graph
