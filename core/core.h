// core: what every stage of fgraph shares.
//
// Owns: the error/result types, SHA-256 hashing and ids, the clock seam, the retry
// policy, logging setup, the HTTP transport seam with its libcurl implementation, the
// Unicode normal form names are compared in (NFKC without default-ignorable code points),
// and the writer lock of a home.
// Nothing here knows about filings, models or graphs.
//
// Threading: every type here is safe to use from several threads at once unless its
// comment says otherwise (ManualClock and Sha256 are single-threaded values).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

namespace fgraph {

// ---------------------------------------------------------------------------------
// Errors. The code says what the caller does next, above all whether to retry.
enum class ErrorCode {
  kInvalidInput,  // the input is wrong; fix it, do not retry
  kNotFound,      // the thing asked for does not exist
  kTransient,     // a temporary failure of a working system; retry with backoff
  kRateLimited,   // the remote asked us to slow down; retry after `retry_after`
  kUnavailable,   // an external system could not be reached at all (CLI exit 3)
  kUnauthorized,  // the remote refused our credentials (HTTP 401/403, Neo4j Security.*):
                  // fix the configuration, do not retry (CLI exit 2)
  kPermanent,     // the remote refused for good (quota, client error)
  kInternal,      // a bug or an unexpected state of our own
};

constexpr bool is_retryable(ErrorCode c) {
  return c == ErrorCode::kTransient || c == ErrorCode::kRateLimited ||
         c == ErrorCode::kUnavailable;
}

std::string_view to_string(ErrorCode c);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;          // readable, one line, no secrets (URLs pass redact_urls)
  std::string detail;           // the remote's own code (e.g. "Neo.ClientError...") or ""
  std::chrono::milliseconds retry_after{0};  // a server's Retry-After, 0 if none

  // "kind: message [detail]" for logs and CLI output.
  std::string describe() const;
};

inline Error make_error(ErrorCode code, std::string message, std::string detail = {}) {
  return Error{code, std::move(message), std::move(detail), {}};
}

// Result<T> holds a T or an Error; member names follow std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }
  template <typename U>
  T value_or(U&& other) const& { return has_value() ? value() : T(std::forward<U>(other)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT: implicit by design
  bool has_value() const { return !e_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *e_; }
  Error& error() { return *e_; }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;
inline Status ok() { return {}; }

// Aborts with a message: for broken internal invariants that user input cannot reach.
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
#define FGRAPH_CHECK(cond) \
  do { if (!(cond)) ::fgraph::check_failed(#cond, __FILE__, __LINE__); } while (0)

// ---------------------------------------------------------------------------------
// Hashing and ids.

// Incremental SHA-256 (OpenSSL EVP). A single-threaded value.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  // Lower-case hex digest; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// SHA-256 over several fields, each prefixed by its length so that field boundaries
// cannot be forged ("ab","c" and "a","bc" hash differently).
std::string sha256_fields(std::initializer_list<std::string_view> fields);

// 16 lower-case hex characters from the OS random source (for run ids).
std::string random_hex(std::size_t n_bytes = 8);

// ---------------------------------------------------------------------------------
// Clock. Everything that sleeps or reads time goes through it, so tests take no wall time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
};

// The real clock (process-wide singleton-free: construct one in main and pass it down).
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  void sleep_for(std::chrono::milliseconds d) override;
};

// A clock for tests: sleeping advances time instantly and is recorded.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start = {});
  std::chrono::system_clock::time_point now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  void sleep_for(std::chrono::milliseconds d) override;
  void advance(std::chrono::milliseconds d);
  const std::vector<std::chrono::milliseconds>& sleeps() const { return sleeps_; }

 private:
  std::chrono::milliseconds elapsed_{0};
  std::chrono::system_clock::time_point start_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

// RFC 3339 UTC text ("2026-11-23T21:07:59Z").
std::string format_utc(std::chrono::system_clock::time_point t);
// The inverse of format_utc ("YYYY-MM-DDTHH:MM:SSZ", fractions of a second ignored);
// nullopt for any other text.
std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

// ---------------------------------------------------------------------------------
// Retry policy: one place that decides whether and how long to wait.
struct RetryPolicy {
  int max_attempts = 3;                                     // attempts in all, first included
  std::chrono::milliseconds initial_backoff{500};           // first wait
  std::chrono::milliseconds max_backoff{8000};              // cap of the exponential wait
  std::chrono::milliseconds max_retry_after{120000};        // a longer Retry-After: give up
  double jitter = 0.25;                                     // wait *= 1 - U(0, jitter)

  // The wait before attempt `attempt` (1 = the first retry) after `error`, or nullopt
  // when the error must not be retried or the attempts are used up.
  std::optional<std::chrono::milliseconds> next_delay(int attempt, const Error& error) const;
};

// Runs `op` until it succeeds, fails with a non-retryable error, or the policy gives up.
// Sleeps go through `clock`.
template <typename F>
auto with_retry(const RetryPolicy& policy, Clock& clock, F&& op) -> decltype(op()) {
  for (int attempt = 1;; ++attempt) {
    auto r = op();
    if (r.has_value()) return r;
    auto delay = policy.next_delay(attempt, r.error());
    if (!delay) return r;
    clock.sleep_for(*delay);
  }
}

// ---------------------------------------------------------------------------------
// Terminal output. A file name or a filing's metadata can hold escape codes and
// newlines; printed raw they move the cursor, recolour or forge lines of the output.
//
// `s` as one printable line: control characters (C0, DEL) become \n, \r, \t or \xHH,
// C1 controls and bidirectional overrides/isolates \uHHHH, a backslash \\, bytes that
// are not UTF-8 \xHH; everything else (printable UTF-8, non-ASCII letters) is kept.
// JSON output needs none of this: the JSON encoder escapes.
std::string escape_for_terminal(std::string_view s);

// ---------------------------------------------------------------------------------
// Logging: one named logger per stage, to stderr.
struct LogOptions {
  std::string level = "info";  // trace|debug|info|warn|error|off
};
void init_logging(const LogOptions& options);
// The stage's logger ("ingest", "extract", ...); created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& stage);

// ---------------------------------------------------------------------------------
// HTTP transport seam. The real one is libcurl; tests wrap it with fault injectors.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct MultipartPart {
  std::string name;       // form field name
  std::string value;      // inline content (used when file_path is empty)
  std::string file_path;  // stream this file as the content
  std::string filename;   // the filename= of the part, "" for plain fields
  std::string content_type;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;
  std::vector<MultipartPart> multipart;  // non-empty: send multipart/form-data, body ignored
  std::string response_path;             // non-empty: stream the response body to this file
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds connect_timeout{5000};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;     // empty when streamed to response_path

  // The first header with this (lower-case) name, or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. A response with any HTTP status is a value; only failures to
  // talk to the server at all are errors (kUnavailable for refused/unresolvable/timeouts,
  // kInvalidInput for a malformed request, kInternal otherwise).
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlTransportOptions {
  std::size_t max_idle_handles = 16;  // pooled easy handles keep connections alive
};
std::unique_ptr<HttpTransport> make_curl_transport(CurlTransportOptions options = {});

// Parses a Retry-After value (seconds, possibly fractional, or retry-after-ms) from a
// response's headers; 0 when absent or unreadable (HTTP-date forms are not honoured).
std::chrono::milliseconds parse_retry_after(const HttpResponse& response);

// Maps an HTTP status to the error code the caller acts on (429 -> kRateLimited,
// 408/409/5xx -> kTransient, 404 -> kNotFound, 401/403 -> kUnauthorized, 400/413/422 ->
// kInvalidInput, other 4xx -> kPermanent).
ErrorCode classify_http_status(int status);

// `text` (a URL, or a message or log line that holds URLs) with the credentials of every
// URL in it replaced by "****": "https://user:pass@host/p" -> "https://****@host/p".
// Every place where a configured URL reaches a message, a log line or `fgraph config`
// passes it through here; text without "scheme://user@" is returned unchanged.
std::string redact_urls(std::string_view text);

// Reads a whole file; kNotFound if missing, kInvalidInput if larger than max_bytes.
Result<std::string> read_file(const std::string& path, std::uint64_t max_bytes = 1ull << 30);
// Writes a file atomically (temp file + rename).
Status write_file_atomic(const std::string& path, std::string_view bytes);

// ---------------------------------------------------------------------------------
// Unicode text (core/text.cpp), for the stages that compare names.

// True for a code point of Unicode's Default_Ignorable_Code_Point property (UAX #44),
// reserved ones included: soft hyphen, zero-width space, joiners and non-joiner, word
// joiner, bidi marks and embeddings, invisible operators, variation selectors, Hangul
// fillers, BOM, tags. They render as nothing, so text differing only in them must compare equal.
bool is_default_ignorable(char32_t cp);

// `utf8` in Unicode NFKC (compatibility forms such as full-width letters become the plain
// ones), case-folded when `casefold`, with every default-ignorable code point removed.
// Invalid bytes become U+FFFD and NUL a space; never fails.
std::string nfkc_visible(std::string_view utf8, bool casefold);

// `utf8` with its default-ignorable code points removed and nothing else changed (for text
// shown to people, such as a canonical name). Invalid bytes are kept as they are.
std::string without_default_ignorables(std::string_view utf8);

// Test-only fault injection (ARCHITECTURE.md, "Fault injection"): when the environment
// variable FGRAPH_TEST_CRASH_AT is `<point>[:N]` and names this point, its Nth call (default
// 1st) kills the process with SIGKILL, as a crash would. Inert unless the variable is set;
// the variable is read once per process.
void crash_point(std::string_view point);

// ---------------------------------------------------------------------------------
// The writer lock of a home: one writer per $FGRAPH_HOME (DESIGN.md, "One writer per
// home"). Every command that writes the ledger or Neo4j (`run`, `rollback`, `replay`,
// `registry merge|unmerge`) takes it for its whole life, and `fgraph serve` for its own;
// readers take nothing and keep working beside a writer. A second writer is refused at
// once, told who holds the lock.
//
// Mechanism: an exclusive flock(2) on <home>/writer.lock, tried without waiting. The file
// holds the holder's description, one `key=value` per line (pid, command, since, url),
// rewritten by each new holder and emptied on release; the file itself is never removed
// (removing it would let two processes lock two different files). The kernel drops the
// lock when the holder closes it or dies, SIGKILL included, so a stale file never blocks
// anyone. The descriptor is close-on-exec: programs the holder runs do not inherit the
// lock. Two WriterLocks of one process exclude each other too (flock belongs to the open
// file). The lock is advisory and local: a home on NFS needs a server that supports
// flock.
//
// Threading: a WriterLock has one owner; set_url is not to be called concurrently.
class WriterLock {
 public:
  // Who holds a lock, as its file describes it.
  struct Holder {
    long pid = 0;         // 0: not described (yet)
    std::string command;  // e.g. "fgraph run drops/e", control characters escaped
    std::string since;    // RFC 3339 UTC, when the lock was taken
    std::string url;      // the service's URL once `fgraph serve` listens, else ""
    // "pid 4242 (fgraph run drops/e) since 2026-12-06T09:00:00Z[, serving URL]".
    std::string describe() const;
  };

  struct Options {
    std::string path;     // the lock file; normally WriterLock::path_in(home)
    std::string command;  // what the holder does, shown to writers it refuses
    // How long a refused writer waits for a holder that has just taken the lock to
    // write its description, before describing it as unknown.
    std::chrono::milliseconds describe_wait{500};
  };

  // <home>/writer.lock.
  static std::string path_in(const std::string& home);

  // Takes the lock without waiting and writes this process's description into the file
  // (creating the file and its folder if needed). Errors: kInvalidInput with detail
  // "writer_lock_held" and the holder described in the message when another open file
  // holds the lock (the CLI's exit 2); kInternal when the file cannot be opened, locked
  // or written (nothing is held then). Sleeps (describe_wait) go through `clock`.
  static Result<std::unique_ptr<WriterLock>> acquire(const Options& options, Clock& clock);

  // Reads the description in the lock file at `path`; kNotFound without a file. It says
  // who holds or last took the lock, not whether it is held now.
  static Result<Holder> read_holder(const std::string& path);

  // Adds the service URL to the description (fgraph serve, once it listens).
  // kInternal when the file cannot be written; the lock stays held either way.
  Status set_url(std::string_view url);

  const Holder& holder() const { return holder_; }
  const std::string& path() const { return path_; }

  // Empties the description and releases the lock.
  ~WriterLock();
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  WriterLock(int fd, std::string path, Holder holder);
  Status write_description();

  int fd_;
  std::string path_;
  Holder holder_;
};

}  // namespace fgraph
