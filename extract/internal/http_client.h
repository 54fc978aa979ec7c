// JSON-over-HTTP helper for the provider clients: headers, retries through the policy
// and the clock, HTTP statuses turned into Error values (Retry-After kept).
#pragma once

#include <string>

#include "core/core.h"

namespace fgraph::extract::internal {

struct HttpClientOptions {
  std::string base_url;  // e.g. https://api.openai.com/v1 (no trailing slash needed)
  HttpHeaders headers;   // auth and version headers; never logged
  RetryPolicy retry;
  std::chrono::milliseconds timeout{600000};
};

class HttpClient {
 public:
  HttpClient(HttpTransport& transport, Clock& clock, HttpClientOptions options);
  // Sends `method base_url+path` with a JSON body (empty: none). 2xx: the response.
  // Otherwise an Error: classify_http_status code, retry_after, provider message.
  // Retryable failures are retried per policy first.
  Result<HttpResponse> send_json(const std::string& method, const std::string& path,
                                 const std::string& body);
  // Streams GET base_url+path (or an absolute URL) into `file_path`.
  Result<HttpResponse> download(const std::string& path_or_url, const std::string& file_path);
  // multipart/form-data POST.
  Result<HttpResponse> send_multipart(const std::string& path, std::vector<MultipartPart> parts);
  // One attempt, no retries (sync lanes handle 429 themselves per row).
  Result<HttpResponse> send_once(HttpRequest request);
  std::string url(const std::string& path_or_url) const;

 private:
  Result<HttpResponse> send_with_retry(HttpRequest request);
  HttpTransport& transport_;
  Clock& clock_;
  HttpClientOptions options_;
};

// An Error for a non-2xx response (code from the status, message from the body).
Error http_error(const HttpRequest& request, const HttpResponse& response);

}  // namespace fgraph::extract::internal
