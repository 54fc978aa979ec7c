// JSON-over-HTTP for the provider clients.
#include <nlohmann/json.hpp>

#include "extract/internal/http_client.h"

namespace fgraph::extract::internal {

using nlohmann::json;

Error http_error(const HttpRequest& request, const HttpResponse& response) {
  Error e;
  e.code = classify_http_status(response.status);
  e.retry_after = parse_retry_after(response);
  std::string message = "HTTP " + std::to_string(response.status);
  // Both providers wrap errors as {"error":{"message","type"|"code"}}.
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_discarded() && body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& err = body["error"];
    if (err.contains("message") && err["message"].is_string()) {
      message += ": " + err["message"].get<std::string>().substr(0, 300);
    }
    if (err.contains("type") && err["type"].is_string()) e.detail = err["type"];
    if (err.contains("code") && err["code"].is_string()) e.detail = err["code"];
  }
  // A 429 that is a quota, not a rate, will not clear by waiting (protocols A.9).
  if (response.status == 429 && (e.detail == "insufficient_quota" || e.detail == "billing_hard_limit_reached")) {
    e.code = ErrorCode::kPermanent;
  }
  if (auto retry = response.header("x-should-retry")) {
    if (*retry == "false" && is_retryable(e.code)) e.code = ErrorCode::kPermanent;
  }
  // The path only: a URL could carry nothing secret here, but keep messages short.
  std::string path = request.url;
  if (auto p = path.find("://"); p != std::string::npos) {
    if (auto slash = path.find('/', p + 3); slash != std::string::npos) path = path.substr(slash);
  }
  e.message = request.method + " " + path + ": " + message;
  return e;
}

HttpClient::HttpClient(HttpTransport& transport, Clock& clock, HttpClientOptions options)
    : transport_(transport), clock_(clock), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
}

std::string HttpClient::url(const std::string& path_or_url) const {
  if (path_or_url.rfind("http://", 0) == 0 || path_or_url.rfind("https://", 0) == 0) return path_or_url;
  return options_.base_url + path_or_url;
}

Result<HttpResponse> HttpClient::send_once(HttpRequest request) {
  for (const auto& h : options_.headers) request.headers.push_back(h);
  request.timeout = options_.timeout;
  auto r = transport_.send(request);
  if (!r) return r.error();
  if (r->status < 200 || r->status >= 300) return http_error(request, *r);
  return r;
}

Result<HttpResponse> HttpClient::send_with_retry(HttpRequest request) {
  return with_retry(options_.retry, clock_, [&]() { return send_once(request); });
}

Result<HttpResponse> HttpClient::send_json(const std::string& method, const std::string& path,
                                           const std::string& body) {
  HttpRequest req;
  req.method = method;
  req.url = url(path);
  if (!body.empty()) {
    req.body = body;
    req.headers.emplace_back("Content-Type", "application/json");
  }
  return send_with_retry(std::move(req));
}

Result<HttpResponse> HttpClient::download(const std::string& path_or_url,
                                          const std::string& file_path) {
  HttpRequest req;
  req.method = "GET";
  req.url = url(path_or_url);
  req.response_path = file_path;
  auto r = with_retry(options_.retry, clock_, [&]() -> Result<HttpResponse> {
    HttpRequest attempt = req;
    for (const auto& h : options_.headers) attempt.headers.push_back(h);
    attempt.timeout = options_.timeout;
    auto resp = transport_.send(attempt);
    if (!resp) return resp.error();
    if (resp->status < 200 || resp->status >= 300) {
      // The error body went to the file; read it back for the message.
      auto text = read_file(file_path, 1 << 20);
      HttpResponse copy = *resp;
      if (text) copy.body = *text;
      return http_error(attempt, copy);
    }
    return resp;
  });
  return r;
}

Result<HttpResponse> HttpClient::send_multipart(const std::string& path,
                                                std::vector<MultipartPart> parts) {
  HttpRequest req;
  req.method = "POST";
  req.url = url(path);
  req.multipart = std::move(parts);
  return send_with_retry(std::move(req));
}

}  // namespace fgraph::extract::internal
