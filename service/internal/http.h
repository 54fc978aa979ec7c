// The HTTP layer of the service, without Boost types: a request as the handlers see it,
// their response, and the server that reads one from a socket and writes the other
// (internal/http_server.cpp, the only file that includes Beast).
//
// Threading: the server runs `threads` threads on one io_context; each connection is
// served on its own strand. A handler's plan() and handle() run on the connection's
// strand; the Reply may be called from any thread (e.g. the job executor's), once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/core.h"

namespace fgraph::service {

struct HttpRequest {
  std::string method;   // "GET", "PUT", ...
  std::string target;   // as sent: path and query
  std::string path;     // the target before '?', still percent-encoded
  std::string query;    // after '?', "" if none
  std::string authorization;  // the Authorization header, "" if none
  std::string cookie;         // the Cookie header, "" if none (the web console's session)
  std::string content_type;
  bool has_body = false;      // a Content-Length > 0 or a chunked body
  std::optional<std::uint64_t> content_length;
  std::string body;       // a body read into memory
  std::string body_file;  // a body streamed to this file (BodyPlan::file)
  // Set by the handler's plan() for its handle(): the route it matched and its
  // parameters (percent-decoded path segments), in the order of the pattern.
  int route = -1;
  std::vector<std::string> params;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response
};

// {"error": {"code": code, "message": message}} with `status`.
HttpResponse error_response(int status, std::string_view code, std::string_view message);
// A JSON document (already encoded) with `status`.
HttpResponse json_response(int status, std::string body);

// What the server does with a request's body, decided from its head alone.
struct BodyPlan {
  std::optional<HttpResponse> reject;  // answer at once; the body is never read
  std::uint64_t limit = 0;  // bytes at most; a larger body is answered 413
  std::string file;         // non-empty: stream the body to this file (else into memory)
};

using Reply = std::function<void(HttpResponse)>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Routes and authenticates a request from its head (method, target, headers) and says
  // how to read its body. May fill request.route and request.params.
  virtual BodyPlan plan(HttpRequest& request) = 0;
  // Answers a request whose body was read as planned. `reply` must be called once.
  virtual void handle(HttpRequest request, Reply reply) = 0;
  // Counts a response (route as the handler names it, or "-" for one the server gave
  // itself: 400 unparsable, 413, 431).
  virtual void count(std::string_view route, int status) = 0;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8765;  // 0: any free port
  int threads = 2;
  std::uint32_t max_header_bytes = 16 * 1024;  // request line and headers; beyond: 431
  // A request's head and in-memory body must arrive within this, and a keep-alive
  // connection idle this long is closed; a slow client is cut without holding others.
  std::chrono::milliseconds idle_timeout{30000};
  // A streamed body (upload) must arrive within this.
  std::chrono::milliseconds upload_timeout{600000};
};

class HttpServer {
 public:
  // Binds and listens (SO_REUSEADDR), then serves on `options.threads` threads.
  // kInvalidInput for an address that is not an IP address; kUnavailable when the
  // address cannot be bound (in use, not ours).
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                   HttpHandler& handler);
  virtual ~HttpServer() = default;
  // The port listened on (the chosen one when options.port was 0).
  virtual std::uint16_t port() const = 0;
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  virtual void stop() = 0;
};

// Decodes %XX escapes (not '+'); nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);
// The query string as name -> value (decoded; '+' is a space); nullopt when malformed.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace fgraph::service
