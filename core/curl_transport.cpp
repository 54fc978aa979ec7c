#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>

#include <curl/curl.h>

#include "core/core.h"

namespace fgraph {
namespace {

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct MimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
struct FileDeleter {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

std::once_flag g_global_init;

struct Sink {
  std::string* body = nullptr;
  std::FILE* file = nullptr;
  bool write_failed = false;
};

size_t write_body(char* data, size_t size, size_t n, void* userp) {
  auto* sink = static_cast<Sink*>(userp);
  size_t len = size * n;
  if (sink->file != nullptr) {
    if (std::fwrite(data, 1, len, sink->file) != len) {
      sink->write_failed = true;
      return 0;
    }
    return len;
  }
  sink->body->append(data, len);
  return len;
}

size_t write_header(char* data, size_t size, size_t n, void* userp) {
  auto* headers = static_cast<HttpHeaders*>(userp);
  size_t len = size * n;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100-continue or a redirect)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  headers->emplace_back(std::move(name), std::string(value));
  return len;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options) : options_(options) {
    std::call_once(g_global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    CurlPtr handle = acquire();
    if (!handle) return make_error(ErrorCode::kInternal, "curl_easy_init failed");
    auto result = perform(handle.get(), request);
    release(std::move(handle));
    return result;
  }

 private:
  CurlPtr acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CurlPtr h = std::move(idle_.back());
        idle_.pop_back();
        curl_easy_reset(h.get());
        return h;
      }
    }
    return CurlPtr(curl_easy_init());
  }

  void release(CurlPtr h) {
    std::lock_guard lock(mu_);
    if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(h));
  }

  Result<HttpResponse> perform(CURL* h, const HttpRequest& request) {
    HttpResponse response;
    Sink sink{&response.body, nullptr, false};
    std::unique_ptr<std::FILE, FileDeleter> out_file;
    if (!request.response_path.empty()) {
      out_file.reset(std::fopen(request.response_path.c_str(), "wb"));
      if (!out_file) {
        return make_error(ErrorCode::kInternal, "cannot open " + request.response_path);
      }
      sink.file = out_file.get();
    }

    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& [name, value] : request.headers) {
      std::string line = name + ": " + value;
      headers.reset(curl_slist_append(headers.release(), line.c_str()));
    }
    // libcurl would otherwise send "Expect: 100-continue" for large bodies.
    headers.reset(curl_slist_append(headers.release(), "Expect:"));

    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

    std::unique_ptr<curl_mime, MimeDeleter> mime;
    if (!request.multipart.empty()) {
      mime.reset(curl_mime_init(h));
      for (const auto& part : request.multipart) {
        curl_mimepart* p = curl_mime_addpart(mime.get());
        curl_mime_name(p, part.name.c_str());
        if (!part.file_path.empty()) {
          if (curl_mime_filedata(p, part.file_path.c_str()) != CURLE_OK) {
            return make_error(ErrorCode::kInvalidInput, "cannot read " + part.file_path);
          }
        } else {
          curl_mime_data(p, part.value.data(), part.value.size());
        }
        if (!part.filename.empty()) curl_mime_filename(p, part.filename.c_str());
        if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
      }
      curl_easy_setopt(h, CURLOPT_MIMEPOST, mime.get());
    } else if (request.method == "POST" || request.method == "PUT" ||
               request.method == "PATCH" || !request.body.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    if (request.method == "GET" && request.multipart.empty() && request.body.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (request.method != "POST") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      if (sink.write_failed) {
        return make_error(ErrorCode::kInternal, "cannot write " + request.response_path);
      }
      ErrorCode code = ErrorCode::kInternal;
      switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
          code = ErrorCode::kUnavailable;
          break;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
          code = ErrorCode::kInvalidInput;
          break;
        default:
          break;
      }
      return make_error(code, std::string(request.method) + " " + redact_urls(request.url) +
                                  ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    return response;
  }

  CurlTransportOptions options_;
  std::mutex mu_;
  std::vector<CurlPtr> idle_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(CurlTransportOptions options) {
  return std::make_unique<CurlTransport>(options);
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::chrono::milliseconds parse_retry_after(const HttpResponse& response) {
  if (auto ms = response.header("retry-after-ms")) {
    try {
      return std::chrono::milliseconds(static_cast<long long>(std::stod(*ms)));
    } catch (...) {
    }
  }
  if (auto s = response.header("retry-after")) {
    try {
      return std::chrono::milliseconds(static_cast<long long>(std::stod(*s) * 1000.0));
    } catch (...) {
    }
  }
  return std::chrono::milliseconds(0);
}

ErrorCode classify_http_status(int status) {
  if (status == 429) return ErrorCode::kRateLimited;
  if (status == 408 || status == 409 || status >= 500) return ErrorCode::kTransient;
  if (status == 404) return ErrorCode::kNotFound;
  if (status == 401 || status == 403) return ErrorCode::kUnauthorized;
  if (status == 400 || status == 413 || status == 422) return ErrorCode::kInvalidInput;
  return ErrorCode::kPermanent;
}

}  // namespace fgraph
