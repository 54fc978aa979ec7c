// The Beast server behind HttpServer (internal/http.h). Every Boost type of the service
// stays in this file.
#include <algorithm>
#include <array>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "service/internal/http.h"

namespace fgraph::service {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return json_response(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string name(pair.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(name.begin(), name.end(), '+', ' ');
    std::replace(value.begin(), value.end(), '+', ' ');
    auto n = percent_decode(name), v = percent_decode(value);
    if (!n || !v) return std::nullopt;
    out[*n] = *v;
  }
  return out;
}

namespace {

// A parse error of the request (answered 400), not a closed or timed-out connection.
bool is_malformed(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

struct Shared {
  HttpServerOptions options;
  HttpHandler& handler;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared& shared) : stream_(std::move(socket)), shared_(shared) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_head(); });
  }

 private:
  void read_head() {
    head_.emplace();
    head_->header_limit(shared_.options.max_header_bytes);
    // Checked against the plan once the head is read. (Not boost::none: Beast 1.74
    // compares a Content-Length with the optional, and any length is > none.)
    head_->body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_read_header(stream_, buffer_, *head_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_head(ec);
                            });
  }

  void on_head(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return answer_self(431, "header_too_large",
                         "the request line and headers exceed " +
                             std::to_string(shared_.options.max_header_bytes) + " bytes");
    }
    if (ec) {
      if (is_malformed(ec)) return answer_self(400, "bad_request", "malformed HTTP request: " + ec.message());
      return close();  // the client left, or timed out: nobody to answer
    }

    const auto& h = head_->get();
    request_ = HttpRequest{};
    request_.method = std::string(h.method_string());
    request_.target = std::string(h.target());
    auto q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
    request_.authorization = std::string(h[http::field::authorization]);
    request_.cookie = std::string(h[http::field::cookie]);
    request_.content_type = std::string(h[http::field::content_type]);
    if (auto n = head_->content_length()) request_.content_length = *n;
    request_.has_body = head_->chunked() || (request_.content_length && *request_.content_length > 0);
    keep_alive_ = head_->keep_alive();

    BodyPlan plan = shared_.handler.plan(request_);
    if (plan.reject) {
      if (request_.has_body) {  // its body was never read
        plan.reject->close = true;
        linger_ = true;
      }
      return write(std::move(*plan.reject));
    }
    if (request_.content_length && *request_.content_length > plan.limit) {
      return answer_self(413, "body_too_large",
                         "the body exceeds " + std::to_string(plan.limit) + " bytes");
    }
    if (head_->is_done()) return dispatch();  // no body
    limit_ = plan.limit;
    body_file_ = plan.file;
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(shared_.options.idle_timeout);
      return http::async_write(stream_, *cont,
                               [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
                                 if (e) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); };
    if (!body_file_.empty()) {
      file_body_.emplace(std::move(*head_));
      file_body_->body_limit(limit_);
      beast::error_code ec;
      file_body_->get().body().open(body_file_.c_str(), beast::file_mode::write, ec);
      if (ec) {
        body_file_.clear();
        return answer_self(500, "internal", "cannot write the upload: " + ec.message());
      }
      stream_.expires_after(shared_.options.upload_timeout);
      return http::async_read(stream_, buffer_, *file_body_, std::move(done));
    }
    string_body_.emplace(std::move(*head_));
    string_body_->body_limit(limit_);
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_read(stream_, buffer_, *string_body_, std::move(done));
  }

  void on_body(beast::error_code ec) {
    if (file_body_) file_body_->get().body().close();
    if (ec) {
      discard_file();
      if (ec == http::error::body_limit) {
        return answer_self(413, "body_too_large",
                           "the body exceeds " + std::to_string(limit_) + " bytes");
      }
      if (is_malformed(ec)) {
        return answer_self(400, "bad_request", "malformed HTTP body: " + ec.message());
      }
      return close();  // timeout, reset: nobody to answer
    }
    if (string_body_) request_.body = std::move(string_body_->get().body());
    request_.body_file = body_file_;
    body_file_.clear();
    file_body_.reset();
    string_body_.reset();
    dispatch();
  }

  void dispatch() {
    stream_.expires_never();  // the handler may take its time (a write job)
    auto self = shared_from_this();
    shared_.handler.handle(std::move(request_), [self](HttpResponse r) {
      auto exec = self->stream_.get_executor();
      net::post(exec, [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    });
  }

  void answer_self(int status, std::string_view code, const std::string& message) {
    shared_.handler.count("-", status);
    HttpResponse r = error_response(status, code, message);
    r.close = true;
    linger_ = true;
    write(std::move(r));
  }

  void write(HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "fgraph");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->insert(k, v);  // Set-Cookie may repeat
    res->body() = std::move(r.body);
    const bool keep = keep_alive_ && !r.close;
    res->keep_alive(keep);
    res->prepare_payload();
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (!ec && self->linger_) return self->linger();
      if (ec || !keep) return self->close();
      self->head_.reset();
      self->read_head();
    });
  }

  // After answering a request whose body (or rest of head) was not read: closing at
  // once would reset the connection while the client still sends, and it would never
  // read the answer. So stop sending and read and discard what comes, for a moment, up
  // to a few MiB, as web servers' lingering close does.
  void linger() {
    discard_file();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain();
  }
  void drain() {
    if (!drain_buffer_) drain_buffer_ = std::make_unique<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (8u << 20)) return self->close();
                              self->drain();
                            });
  }

  void discard_file() {
    if (body_file_.empty()) return;
    std::error_code ec;
    std::filesystem::remove(body_file_, ec);
    body_file_.clear();
  }

  void close() {
    discard_file();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> head_;
  std::optional<http::request_parser<http::string_body>> string_body_;
  std::optional<http::request_parser<http::file_body>> file_body_;
  HttpRequest request_;
  std::uint64_t limit_ = 0;
  std::string body_file_;
  bool keep_alive_ = true;
  bool linger_ = false;  // answered with input unread: linger() before closing
  std::unique_ptr<std::array<char, 16384>> drain_buffer_;
  std::size_t drained_ = 0;
};

class BeastServer final : public HttpServer {
 public:
  BeastServer(const HttpServerOptions& options, HttpHandler& handler)
      : shared_{options, handler}, ioc_(options.threads), acceptor_(net::make_strand(ioc_)) {}
  ~BeastServer() override { stop(); }

  Status listen() {
    beast::error_code ec;
    auto address = net::ip::make_address(shared_.options.address, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidInput,
                        "--listen: not an IP address: " + shared_.options.address);
    }
    tcp::endpoint endpoint(address, shared_.options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(ErrorCode::kUnavailable, "cannot listen on " + shared_.options.address +
                                                     ":" + std::to_string(shared_.options.port) +
                                                     ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept();
    for (int i = 0; i < std::max(1, shared_.options.threads); ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            logger("service")->error("http thread: {}", e.what());
          }
        }
      });
    }
    return ok();
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    std::call_once(stopped_, [this] {
      net::post(acceptor_.get_executor(), [this] {
        beast::error_code ec;
        acceptor_.close(ec);
      });
      ioc_.stop();
      for (auto& t : threads_) t.join();
    });
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor_.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), shared_)->start();
      accept();
    });
  }

  Shared shared_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      HttpHandler& handler) {
  auto server = std::make_unique<BeastServer>(options, handler);
  if (auto s = server->listen(); !s) return s.error();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace fgraph::service
