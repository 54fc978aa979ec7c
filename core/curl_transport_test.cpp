// Drives the libcurl transport against a one-shot HTTP server on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "core/core.h"

namespace fgraph {
namespace {

// Accepts one connection, records the request, answers `reply` verbatim.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[65536];
    // Read until the end of headers plus any Content-Length body.
    while (true) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      auto end = request_.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t want = 0;
      auto cl = request_.find("Content-Length: ");
      if (cl != std::string::npos) want = std::stoul(request_.substr(cl + 16));
      if (request_.size() >= end + 4 + want) break;
    }
    ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    ::close(c);
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(CurlTransportTest, SendsBodyAndReadsStatusHeadersBody) {
  OneShotServer server(
      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 5\r\n"
      "Connection: close\r\n\r\nhello");
  auto transport = make_curl_transport();
  HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/x";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = R"({"a":1})";
  auto resp = transport->send(req);
  ASSERT_TRUE(resp.has_value()) << resp.error().describe();
  EXPECT_EQ(resp->status, 429);
  EXPECT_EQ(resp->body, "hello");
  EXPECT_EQ(resp->header("retry-after"), "2");
  EXPECT_EQ(parse_retry_after(*resp), std::chrono::milliseconds(2000));
  EXPECT_NE(server.request().find("POST /v1/x"), std::string::npos);
  EXPECT_NE(server.request().find(R"({"a":1})"), std::string::npos);
}

TEST(CurlTransportTest, StreamsResponseToFile) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  auto transport = make_curl_transport();
  auto path = std::filesystem::temp_directory_path() / ("fgraph_curl_" + random_hex(4));
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/file";
  req.response_path = path.string();
  auto resp = transport->send(req);
  ASSERT_TRUE(resp.has_value()) << resp.error().describe();
  EXPECT_TRUE(resp->body.empty());
  auto content = read_file(path.string());
  ASSERT_TRUE(content.has_value());
  EXPECT_EQ(*content, "abc");
  std::filesystem::remove(path);
}

TEST(CurlTransportTest, RefusedConnectionIsUnavailable) {
  // Bind then close a socket to get a port that nothing listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  auto transport = make_curl_transport();
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto resp = transport->send(req);
  ASSERT_FALSE(resp.has_value());
  EXPECT_EQ(resp.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(is_retryable(resp.error().code));

  // Credentials inside the URL never reach the message.
  req.url = "http://neo4j:hunter2-secret@127.0.0.1:" + std::to_string(port) + "/db";
  resp = transport->send(req);
  ASSERT_FALSE(resp.has_value());
  EXPECT_EQ(resp.error().message.find("hunter2-secret"), std::string::npos) << resp.error().message;
  EXPECT_NE(resp.error().message.find("http://****@127.0.0.1:"), std::string::npos)
      << resp.error().message;
}

}  // namespace
}  // namespace fgraph
