// The service's routes: one table from which the router matches requests and the
// OpenAPI document is written, so the two cannot disagree (service_test.cpp and
// tests/service/test_serve.py hold them to it).
// Threading: pure functions over constant data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fgraph::service {

enum class BodyKind {
  kNone,    // no body is read
  kJson,          // a JSON object, at most Limits::max_json_body_bytes
  kOptionalJson,  // the same, or no body at all (read as {})
  kUpload,        // raw bytes streamed to a file, at most Limits::max_upload_bytes
};

struct Route {
  std::string_view method;        // "GET", "POST", "PUT", "DELETE"
  std::string_view pattern;       // "/v1/runs/{id}": each {name} is one path segment
  std::string_view operation_id;  // also the route's label in metrics
  std::string_view summary;
  bool auth = true;               // needs the bearer token
  BodyKind body = BodyKind::kNone;
  int status = 200;               // the status of success
  std::string_view content_type = "application/json";  // of the success response
  // Query parameters, comma-separated; a trailing '!' marks a required one.
  std::string_view query = "";
};

// Every route the service serves.
const std::vector<Route>& routes();

struct RouteMatch {
  int route = -1;                   // index into the table; -1: none
  std::vector<std::string> params;  // the {name} segments, percent-decoded
  // When no route matched: true if the path exists for other methods (405), with them.
  std::vector<std::string> allow;
  bool bad_encoding = false;        // a segment with a malformed %XX escape
};

// Matches `path` (percent-encoded, without the query) against `table`. A segment that is
// empty never matches a parameter.
RouteMatch match_route(const std::vector<Route>& table, std::string_view method,
                       std::string_view path);

// The OpenAPI 3.1 document of `table`.
nlohmann::json openapi_document(const std::vector<Route>& table, std::string_view version);

}  // namespace fgraph::service
