// The service: the route handlers behind the route table (internal/router.h), reading
// through the ledger pool (internal/ledger.h), and the writes they hand to the
// JobExecutor; everything under /ui/ goes to the web console (internal/console.h).
#include "service/service.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "service/internal/auth.h"
#include "service/internal/console.h"
#include "service/internal/documents_api.h"
#include "service/internal/http.h"
#include "service/internal/ledger.h"
#include "service/internal/metrics.h"
#include "service/internal/paths.h"
#include "service/internal/request_body.h"
#include "service/internal/router.h"
#include "run/run.h"
#include "service/internal/carrier.h"
#include "service/internal/inbox.h"
#include "tools/json_output.h"

namespace fgraph::service {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::shared_ptr<spdlog::logger> log() { return logger("service"); }

HttpResponse json_ok(int status, const json& j) { return json_response(status, cli::to_json_text(j)); }

// "host:port" or "[v6]:port".
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  bool loopback = false;
};

Result<ListenAddress> parse_listen(const std::string& listen) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidInput,
                      "--listen must be HOST:PORT with an IP address (127.0.0.1:8765, [::1]:8765): " +
                          listen);
  };
  ListenAddress a;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find("]:");
    if (close == std::string::npos) return bad();
    a.host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return bad();
    a.host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return bad();
  }
  a.port = static_cast<std::uint16_t>(std::stoul(port));
  unsigned char buf[16];
  if (::inet_pton(AF_INET, a.host.c_str(), buf) == 1) {
    a.loopback = buf[0] == 127;
  } else if (::inet_pton(AF_INET6, a.host.c_str(), buf) == 1) {
    static const unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    a.loopback = std::memcmp(buf, kLoop, 16) == 0;
  } else {
    return bad();
  }
  return a;
}

}  // namespace

struct Service::Impl : HttpHandler {
  Impl(const ServiceOptions& o, WriterLock& l)
      : options(o), lock(l), carrier(o.carrier, background_clock) {}

  ServiceOptions options;
  WriterLock& lock;
  std::string token;
  fs::path drops_root;
  std::string ledger_path;
  std::string url;
  AlertList alerts;
  RequestCounter requests;
  std::unique_ptr<LedgerPool> pool;  // for the HTTP threads
  std::unique_ptr<Console> console;  // the web console under /ui/
  std::unique_ptr<LedgerContext> writer;  // touched only by jobs, on the executor's thread
  JobExecutor jobs;
  std::unique_ptr<HttpServer> server;

  // ---- The background work: a thread that queues a "carry" job (inbox sweep, then the
  // carrier's look at every open run that is due) whenever one is due or wake() is called.
  SystemClock background_clock;
  Carrier carrier;                 // touched only by jobs, on the executor's thread
  std::unique_ptr<Inbox> inbox;    // likewise; null without --inbox
  std::mutex background_mu;
  std::condition_variable background_cv;
  bool background_stop = false;
  bool background_woken = false;
  std::thread background;
  void background_loop();
  void wake_background();
  // The job: returns how long until the next pass is due.
  std::chrono::milliseconds carry(LedgerContext& w, JobExecutor::Context& ctx);
  void post_alert(const Alert& alert);

  // ---- HttpHandler.
  BodyPlan plan(HttpRequest& request) override;
  void handle(HttpRequest request, Reply reply) override;
  void count(std::string_view route, int status) override { requests.add(route, status); }

  // Runs `body(LedgerContext&)` with a pooled connection; its Result<json> is the answer.
  template <typename F>
  HttpResponse read(F&& body, int status = 200);
  Result<LedgerContext*> writer_context();
  // Queues a write: `body(Context&, LedgerContext&, done)` answers through `done`, which
  // reaches `reply` once the job has ended.
  template <typename F>
  void write(const std::vector<std::string>& keys, const Reply& reply, F&& body);

  HttpResponse answer(const Route& route, HttpRequest& request, const Reply& reply);
  std::string metrics_text();
};

template <typename F>
HttpResponse Service::Impl::read(F&& body, int status) {
  Result<json> r = pool->with(std::forward<F>(body));
  if (!r) return from_error(r.error());
  return json_ok(status, *r);
}

Result<LedgerContext*> Service::Impl::writer_context() {
  if (!writer) {
    auto opened = open_ledger(ledger_path);
    if (!opened) return opened.error();
    writer = std::move(*opened);
  }
  return writer.get();
}

template <typename F>
void Service::Impl::write(const std::vector<std::string>& keys, const Reply& reply, F&& body) {
  // The answer is held until the job has released its keys, so that a client that
  // follows it with another write on the same keys is not refused (409).
  auto answer = std::make_shared<std::optional<HttpResponse>>();
  Reply done = [answer](HttpResponse r) { *answer = std::move(r); };
  auto st = jobs.submit(
      keys,
      [this, done, body = std::forward<F>(body)](JobExecutor::Context& ctx) {
        auto w = writer_context();
        if (!w) return done(from_error(w.error()));
        body(ctx, **w, done);
        (*w)->store->release_cached();
      },
      [answer, reply] {
        if (*answer) reply(std::move(**answer));
      });
  if (!st) reply(from_error(st.error()));
}

BodyPlan Service::Impl::plan(HttpRequest& request) {
  if (Console::owns(request.path)) {
    BodyPlan p = console->plan(request);
    if (p.reject) count("console", p.reject->status);
    return p;
  }
  BodyPlan p;
  const auto& table = routes();
  RouteMatch m = match_route(table, request.method, request.path);
  auto reject = [&](std::string_view route, HttpResponse r) {
    count(route, r.status);
    p.reject = std::move(r);
    return p;
  };
  if (m.route < 0) {
    if (m.bad_encoding) return reject("-", error_response(400, "bad_request", "malformed %-escape in the path"));
    if (!m.allow.empty()) {
      std::string allow;
      for (const auto& a : m.allow) allow += (allow.empty() ? "" : ", ") + a;
      HttpResponse r = error_response(405, "method_not_allowed",
                                      request.method + " is not allowed here; allowed: " + allow);
      r.headers.emplace_back("Allow", allow);
      return reject("-", std::move(r));
    }
    return reject("-", error_response(404, "not_found", "no such route: " + request.path));
  }
  const Route& route = table[m.route];
  if (route.auth) {
    auto given = bearer_token(request.authorization);
    if (!given || !tokens_equal(*given, token)) {
      HttpResponse r = error_response(401, "unauthorized",
                                      given ? "the bearer token is not valid"
                                            : "an Authorization: Bearer TOKEN header is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return reject(route.operation_id, std::move(r));
    }
  }
  request.route = m.route;
  request.params = std::move(m.params);
  switch (route.body) {
    case BodyKind::kNone: p.limit = 0; break;
    case BodyKind::kJson:
    case BodyKind::kOptionalJson: p.limit = options.limits.max_json_body_bytes; break;
    case BodyKind::kUpload: {
      auto target = resolve_under(drops_root, request.params[0] + "/" + request.params[1]);
      if (!target) return reject(route.operation_id, from_error(target.error()));
      if (jobs.busy("drop:" + target->parent_path().string())) {
        return reject(route.operation_id,
                      error_response(409, "conflict", "a run of this drop is in progress"));
      }
      std::error_code ec;
      fs::create_directories(target->parent_path(), ec);
      if (ec || !fs::is_directory(target->parent_path())) {
        return reject(route.operation_id,
                      error_response(400, "invalid_input", "the drop is not a folder"));
      }
      if (fs::is_directory(*target)) {
        return reject(route.operation_id, error_response(400, "invalid_input", "the file name is a folder"));
      }
      p.limit = options.limits.max_upload_bytes;
      p.file = (target->parent_path() / ("." + target->filename().string() + ".upload-" + random_hex(6))).string();
      request.params.push_back(target->string());  // handle() renames the file into place
      break;
    }
  }
  return p;
}

void Service::Impl::handle(HttpRequest request, Reply reply) {
  if (request.route == Console::kRoute) {
    return console->handle(std::move(request), [this, reply](HttpResponse r) {
      count("console", r.status);
      reply(std::move(r));
    });
  }
  const Route& route = routes()[request.route];
  Reply counted = [this, name = route.operation_id, reply](HttpResponse r) {
    count(name, r.status);
    reply(std::move(r));
  };
  try {
    HttpResponse r = answer(route, request, counted);
    if (r.status != 0) counted(std::move(r));
  } catch (const std::exception& e) {
    log()->error("{} {}: {}", request.method, route.pattern, e.what());
    counted(error_response(500, "internal", "internal error"));
  }
}

// The answer of a route, or status 0 when a job will answer through `reply`.
HttpResponse Service::Impl::answer(const Route& route, HttpRequest& request, const Reply& reply) {
  const std::string_view op = route.operation_id;
  const auto& p = request.params;
  HttpResponse later;
  later.status = 0;

  if (op == "healthz") return json_ok(200, {{"status", "ok"}});
  if (op == "openapi") return json_ok(200, openapi_document(routes(), options.version));
  if (op == "list_alerts") {
    json list = json::array();
    for (const auto& a : alerts.open()) {
      list.push_back({{"key", a.key}, {"kind", a.kind}, {"message", a.message},
                      {"run_id", a.run_id.empty() ? json(nullptr) : json(a.run_id)},
                      {"raised_at", a.raised_at}});
    }
    return json_ok(200, {{"alerts", list}});
  }
  if (op == "metrics") {
    HttpResponse r;
    r.content_type = std::string(route.content_type);
    r.body = metrics_text();
    return r;
  }
  if (op == "list_runs" || op == "get_run" || op == "audit") {
    return read([&](LedgerContext& c) -> Result<json> {
      run::Coordinator coordinator(options.run, *c.store, *c.transport, c.clock, c.progress);
      if (op == "get_run") {
        auto r = coordinator.report(p[0]);
        if (!r) return r.error();
        return cli::report_json(*r);
      }
      if (op == "audit") {
        auto a = coordinator.audit();
        if (!a) return a.error();
        return cli::audit_json(*a);
      }
      auto all = coordinator.runs();
      if (!all) return all.error();
      json list = json::array();
      for (const auto& r : *all) list.push_back(cli::run_summary_json(r));
      return json{{"runs", list}};
    });
  }
  if (op == "list_documents" || op == "get_document" || op == "list_dropped") {
    auto q = parse_query(request.query);
    if (!q) return error_response(400, "invalid_input", "malformed query string");
    return read([&](LedgerContext& c) { return documents_api(op, c, options.run, p, *q); });
  }
  if (op == "find_entities") {
    auto q = parse_query(request.query);
    if (!q) return error_response(400, "invalid_input", "malformed query string");
    auto text = q->find("q");
    if (text == q->end() || text->second.empty()) {
      return error_response(400, "invalid_input", "the query parameter q is required");
    }
    std::size_t limit = 10;
    if (auto l = q->find("limit"); l != q->end()) {
      const auto& v = l->second;
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(v) > 1000) {
        return error_response(400, "invalid_input", "limit must be a whole number in 0..1000");
      }
      limit = std::stoul(v);
    }
    std::optional<std::string> type;
    if (auto t = q->find("type"); t != q->end() && !t->second.empty()) type = t->second;
    return read([&](LedgerContext& c) -> Result<json> {
      auto r = c.registry->find(text->second, type, limit);
      if (!r) return r.error();
      json list = json::array();
      for (const auto& cand : *r) list.push_back(cli::candidate_json(cand));
      return json{{"candidates", list}};
    });
  }
  if (op == "get_entity") {
    return read([&](LedgerContext& c) -> Result<json> {
      auto r = c.registry->show(p[0]);
      if (!r) return r.error();
      return cli::entity_json(*r);
    });
  }
  if (op == "entity_history") {
    return read([&](LedgerContext& c) -> Result<json> {
      auto r = c.registry->history(p[0]);
      if (!r) return r.error();
      json list = json::array();
      for (const auto& e : *r) list.push_back(cli::journal_json(e));
      return json{{"history", list}};
    });
  }
  if (op == "upload_file") {
    const fs::path target = p[2];
    std::error_code ec;
    const auto bytes = fs::file_size(request.body_file, ec);
    fs::rename(request.body_file, target, ec);
    if (ec) {
      fs::remove(request.body_file, ec);
      return error_response(500, "internal", "cannot store the upload");
    }
    log()->info("upload drop={} file={} bytes={}", p[0], p[1], bytes);
    return json_ok(201, {{"drop", p[0]}, {"file", p[1]}, {"bytes", bytes}});
  }

  // Writes: a JSON body, then a job.
  auto body = parse_object(request.body, route.body == BodyKind::kJson);
  if (!body) return from_error(body.error());
  const json& b = *body;

  if (op == "start_run") {
    auto o = run_options_from_body(b, drops_root);
    if (!o) return from_error(o.error());
    // The job records the run and reads its drop, then answers 202; the background work
    // carries it on from there (submission, polling, verify, staging).
    write({"drop:" + o->drop}, reply, [this, o = *o](JobExecutor::Context& ctx, LedgerContext& w, const Reply& reply) {
      run::Coordinator coordinator(options.run, *w.store, *w.transport, w.clock, w.progress);
      auto id = coordinator.start(o);
      if (!id) return reply(from_error(id.error()));
      ctx.claim("run:" + *id);
      carrier.wake(*id);
      wake_background();
      reply(json_ok(202, {{"run_id", *id}}));
    });
    return later;
  }
  if (op == "rollback_run") {
    auto doc = string_field(b, "doc_id");
    if (!doc) return from_error(doc.error());
    write({"run:" + p[0]}, reply, [this, run_id = p[0], doc = *doc](JobExecutor::Context&, LedgerContext& w,
                                                                    const Reply& reply) {
      run::Coordinator coordinator(options.run, *w.store, *w.transport, w.clock, w.progress);
      auto st = coordinator.rollback(run_id, doc);
      if (!st) return reply(from_error(st.error()));
      json j = {{"run_id", run_id}, {"state", "rolled_back"}};
      if (doc) j["doc_id"] = *doc;
      reply(json_ok(200, j));
    });
    return later;
  }
  if (op == "replay_run") {
    write({"run:" + p[0]}, reply, [this, run_id = p[0]](JobExecutor::Context&, LedgerContext& w,
                                                        const Reply& reply) {
      run::Coordinator coordinator(options.run, *w.store, *w.transport, w.clock, w.progress);
      auto r = coordinator.replay(run_id);
      reply(r ? json_ok(200, cli::report_json(*r)) : from_error(r.error()));
    });
    return later;
  }
  if (op == "merge_entities") {
    auto a = required_string(b, "a");
    if (!a) return from_error(a.error());
    auto bb = required_string(b, "b");
    if (!bb) return from_error(bb.error());
    write({"entity:" + *a, "entity:" + *bb}, reply,
          [a = *a, bb = *bb](JobExecutor::Context&, LedgerContext& w, const Reply& reply) {
            auto r = w.registry->merge(a, bb);
            reply(r ? json_ok(201, cli::merge_json(*r)) : from_error(r.error()));
          });
    return later;
  }
  if (op == "unmerge") {
    write({"merge:" + p[0]}, reply, [id = p[0]](JobExecutor::Context&, LedgerContext& w, const Reply& reply) {
      auto st = w.registry->unmerge(id);
      reply(st ? json_ok(200, cli::unmerge_json(id)) : from_error(st.error()));
    });
    return later;
  }
  return error_response(500, "internal", "route without a handler");
}

std::string Service::Impl::metrics_text() {
  std::vector<MetricFamily> families;
  HttpResponse r = read([&](LedgerContext& c) -> Result<json> {
    run::Coordinator coordinator(options.run, *c.store, *c.transport, c.clock, c.progress);
    auto all = coordinator.runs();
    if (!all) return all.error();
    std::map<std::string, double> runs_by_state, docs_by_state, rows, failed, dropped;
    std::map<std::pair<std::string, std::string>, double> dollars;
    double accepted = 0, leaks = 0;
    for (const auto& s : *all) {
      runs_by_state[std::string(run::to_string(s.state))] += 1;
      auto rep = coordinator.report(s.run_id);
      if (!rep) return rep.error();
      docs_by_state["parsed"] += static_cast<double>(rep->documents_parsed);
      docs_by_state["staged"] += static_cast<double>(rep->documents_staged);
      docs_by_state["stage_failed"] += static_cast<double>(rep->documents_stage_failed);
      docs_by_state["rolled_back"] += static_cast<double>(rep->documents_rolled_back);
      docs_by_state["rolling_back"] += static_cast<double>(rep->documents_rolling_back);
      rows["completed"] += static_cast<double>(rep->requests_completed);
      rows["dead_lettered"] += static_cast<double>(rep->requests_dead_lettered);
      rows["in_flight"] += static_cast<double>(rep->requests_in_flight);
      for (const auto& [k, v] : rep->failed_by_outcome) failed[k] += static_cast<double>(v);
      accepted += static_cast<double>(rep->facts_accepted);
      for (const auto& [k, v] : rep->dropped_by_reason) dropped[k] += static_cast<double>(v);
      leaks += static_cast<double>(rep->leak_alarms.size());
      for (const auto& u : rep->usage) dollars[{u.lane, u.model}] += u.cost_usd;
    }
    auto family = [&](std::string name, std::string help, std::string type, std::string label,
                      const std::map<std::string, double>& m) {
      MetricFamily f{std::move(name), std::move(help), std::move(type), {}};
      for (const auto& [k, v] : m) f.samples.push_back({{{label, k}}, v});
      families.push_back(std::move(f));
    };
    family("fgraph_runs", "Runs by state", "gauge", "state", runs_by_state);
    family("fgraph_documents", "Documents of all runs by state (a document is counted in each "
           "run that holds it)", "gauge", "state", docs_by_state);
    family("fgraph_request_rows", "Request rows by outcome", "gauge", "outcome", rows);
    family("fgraph_failed_attempts", "Failed request attempts by outcome", "gauge", "outcome", failed);
    families.push_back({"fgraph_facts_accepted", "Facts accepted by verify", "gauge", {{{}, accepted}}});
    family("fgraph_facts_dropped", "Facts dropped by verify, by reason", "gauge", "reason", dropped);
    families.push_back({"fgraph_leak_alarms", "Cross-document leak alarms", "gauge", {{{}, leaks}}});
    MetricFamily cost{"fgraph_cost_usd", "Dollars spent, by lane and model", "gauge", {}};
    for (const auto& [k, v] : dollars) cost.samples.push_back({{{"lane", k.first}, {"model", k.second}}, v});
    families.push_back(std::move(cost));
    return json::object();
  });
  if (r.status != 200) log()->warn("metrics: the ledger could not be read: {}", r.body);
  read([&](LedgerContext& c) -> Result<json> {
    auto open = extract::open_batches(*c.store);
    if (!open) return open.error();
    double oldest = 0;
    const auto now = std::chrono::system_clock::now();
    for (const auto& b : *open) {
      if (auto at = parse_utc(b.created_at)) {
        oldest = std::max(oldest, std::chrono::duration<double>(now - *at).count());
      }
    }
    families.push_back({"fgraph_open_batches", "Provider batches submitted and not collected",
                        "gauge", {{{}, static_cast<double>(open->size())}}});
    families.push_back({"fgraph_oldest_open_batch_seconds", "Age of the oldest open batch", "gauge",
                        {{{}, oldest}}});
    return json::object();
  });
  families.push_back({"fgraph_jobs_pending", "Write jobs queued or running", "gauge",
                      {{{}, static_cast<double>(jobs.pending())}}});
  families.push_back({"fgraph_alerts_open", "Open alerts", "gauge",
                      {{{}, static_cast<double>(alerts.open().size())}}});
  families.push_back(requests.family());
  return format_prometheus(families);
}

void Service::Impl::wake_background() {
  {
    std::lock_guard l(background_mu);
    background_woken = true;
  }
  background_cv.notify_all();
}

// Queues one carry job at a time and waits until the next pass is due (or a wake-up).
void Service::Impl::background_loop() {
  std::unique_lock l(background_mu);
  while (!background_stop) {
    background_woken = false;
    auto next = std::make_shared<std::chrono::milliseconds>(options.carrier.poll_max);
    auto done = std::make_shared<bool>(false);
    l.unlock();
    auto queued = jobs.submit({"background"}, [this, next, done](JobExecutor::Context& ctx) {
      auto w = writer_context();
      if (w) {
        *next = carry(**w, ctx);
        (*w)->store->release_cached();
      }
      if (!w) log()->error("background work: {}", w.error().describe());
      {
        std::lock_guard g(background_mu);
        *done = true;
      }
      background_cv.notify_all();
    });
    l.lock();
    if (!queued) {  // the executor stopped, or a carry job is still queued
      background_cv.wait_for(l, std::chrono::seconds(1), [&] { return background_stop; });
      continue;
    }
    background_cv.wait(l, [&] { return background_stop || *done; });
    if (inbox) *next = std::min<std::chrono::milliseconds>(*next, options.inbox_settle);
    *next = std::max<std::chrono::milliseconds>(*next, std::chrono::milliseconds(200));
    background_cv.wait_for(l, *next, [&] { return background_stop || background_woken; });
  }
}

std::chrono::milliseconds Service::Impl::carry(LedgerContext& w, JobExecutor::Context& ctx) {
  run::Coordinator coordinator(options.run, *w.store, *w.transport, w.clock, w.progress);
  if (inbox) {
    run::RunOptions defaults;  // the configured lane, model and budget
    auto sweep = inbox->sweep(coordinator, defaults);
    if (!sweep) {
      log()->error("inbox: {}", sweep.error().describe());
    } else {
      for (const auto& id : sweep->started) carrier.wake(id);
    }
  }
  if (ctx.stopping()) return std::chrono::milliseconds(0);
  Carrier::Pass pass = carrier.tick(coordinator, *w.store);
  for (const auto& alert : pass.raised) {
    alerts.add(alert);
    post_alert(alert);
  }
  if (!carrier.neo4j_down()) alerts.resolve(Carrier::alert_key("neo4j_unreachable", ""));
  return pass.next_in;
}

// POSTs an alert to service.alert_webhook (one try, a short timeout: the alert stays
// listed at GET /v1/alerts whatever the webhook answers).
void Service::Impl::post_alert(const Alert& alert) {
  if (options.alert_webhook.empty()) return;
  fgraph::HttpRequest req;
  req.method = "POST";
  req.url = options.alert_webhook;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = cli::to_json_text({{"kind", alert.kind}, {"run_id", alert.run_id.empty() ? json(nullptr) : json(alert.run_id)},
                                {"message", alert.message}, {"raised_at", alert.raised_at},
                                {"service", url}});
  req.timeout = std::chrono::milliseconds(5000);
  auto r = writer->transport->send(req);
  if (!r || r->status / 100 != 2) {
    log()->warn("alert webhook {}: {}", redact_urls(options.alert_webhook),
                r ? "HTTP " + std::to_string(r->status) : r.error().describe());
  }
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { stop(); }

std::string Service::url() const { return impl_->url; }
AlertList& Service::alerts() { return impl_->alerts; }
JobExecutor& Service::jobs() { return impl_->jobs; }

void Service::stop() {
  {
    std::lock_guard l(impl_->background_mu);
    impl_->background_stop = true;
  }
  impl_->background_cv.notify_all();
  if (impl_->background.joinable()) impl_->background.join();
  // The running job answers through the HTTP threads: they stop after it.
  impl_->jobs.stop();
  if (impl_->server) impl_->server->stop();
}

Result<std::unique_ptr<Service>> Service::start(const ServiceOptions& options, WriterLock& lock) {
  auto address = parse_listen(options.listen);
  if (!address) return address.error();
  if (!address->loopback && !options.allow_remote) {
    return make_error(ErrorCode::kInvalidInput,
                      "--listen " + options.listen + " is not a loopback address; add "
                      "--allow-remote to serve other machines (every route but /healthz needs "
                      "the token)");
  }
  auto impl = std::make_unique<Impl>(options, lock);
  // A service's log is its operator's interface: its own lines show from info up.
  if (log()->level() > spdlog::level::info) log()->set_level(spdlog::level::info);

  // Not inside the home: a run never reads the home (ingest's excluded_dirs).
  fs::path home = fs::weakly_canonical(fs::absolute(options.home));
  impl->drops_root = options.drops_root.empty() ? fs::path(home.string() + "-drops")
                                                : fs::path(options.drops_root);
  std::error_code ec;
  fs::create_directories(impl->drops_root, ec);
  if (!fs::is_directory(impl->drops_root)) {
    return make_error(ErrorCode::kInvalidInput,
                      "the drops root " + impl->drops_root.string() + " is not a folder");
  }
  const fs::path real_root = fs::canonical(impl->drops_root);
  if (std::mismatch(home.begin(), home.end(), real_root.begin(), real_root.end()).first == home.end()) {
    return make_error(ErrorCode::kInvalidInput,
                      "--drops-root " + impl->drops_root.string() +
                          " is inside the fgraph home, which runs never read; choose a folder outside it");
  }
  auto token = load_or_create_token(options.token, options.home);
  if (!token) return token.error();
  impl->token = token->token;
  impl->ledger_path = (fs::path(options.home) / "fgraph.db").string();
  impl->pool = std::make_unique<LedgerPool>(impl->ledger_path);
  if (auto s = impl->pool->open(); !s) return s.error();  // migrations before anyone reads
  Impl* self = impl.get();
  impl->console = std::make_unique<Console>(
      Console::Options{impl->token, options.run}, *impl->pool, impl->alerts,
      [self](const std::vector<std::string>& keys, Reply reply, Console::WriteBody body) {
        self->write(keys, reply, [body = std::move(body)](JobExecutor::Context&, LedgerContext& w,
                                                           const Reply& done) { done(body(w)); });
      });

  HttpServerOptions http;
  http.address = address->host;
  http.port = address->port;
  http.threads = options.http_threads;
  http.max_header_bytes = options.limits.max_header_bytes;
  http.idle_timeout = options.limits.idle_timeout;
  http.upload_timeout = options.limits.upload_timeout;
  auto server = HttpServer::start(http, *impl);
  if (!server) return server.error();
  impl->server = std::move(*server);
  const bool v6 = address->host.find(':') != std::string::npos;
  impl->url = "http://" + (v6 ? "[" + address->host + "]" : address->host) + ":" +
              std::to_string(impl->server->port());
  if (auto s = lock.set_url(impl->url); !s) log()->warn("writer lock: {}", s.error().describe());

  if (!options.inbox.empty()) {
    fs::create_directories(options.inbox, ec);
    if (!fs::is_directory(options.inbox)) {
      return make_error(ErrorCode::kInvalidInput, "the inbox " + options.inbox + " is not a folder");
    }
    impl->inbox = std::make_unique<Inbox>(options.inbox, options.inbox_settle);
    log()->info("inbox {}: files settled for {} s become a drop and a run", options.inbox,
                options.inbox_settle.count());
  }
  Impl* raw = impl.get();
  impl->background = std::thread([raw] { raw->background_loop(); });

  log()->info("listening on {} (drops root {})", impl->url, impl->drops_root.string());
  if (!address->loopback) {
    log()->warn("listening on {}, which is not loopback (--allow-remote): other machines can "
                "reach the service; use TLS in front of it", options.listen);
  }
  if (token->created) {
    log()->info("generated a new bearer token in {} (mode 0600)", token->file);
  } else if (!token->file.empty()) {
    log()->info("bearer token from {}", token->file);
  } else {
    log()->info("bearer token from the configuration");
  }
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Status serve(const ServiceOptions& options, WriterLock& lock) {
  // Blocked before any thread starts, so that every thread inherits the mask and the
  // signals wait for sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto service = Service::start(options, lock);
  if (!service) return service.error();
  int received = 0;
  sigwait(&signals, &received);
  log()->info("signal {}: stopping", received == SIGTERM ? "SIGTERM" : "SIGINT");
  // The running job (a live lane's extraction can take minutes) is given 25 s to reach its
  // end; after that the process exits as if killed, which is safe at any point: each
  // document is staged in one Neo4j transaction, every ledger write is a transaction, and
  // the next start resumes every open run (README, "Run it as a service").
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(25));
    log()->warn("stopping mid-job after 25 s; the next start resumes the open runs");
    std::_Exit(0);
  }).detach();
  (*service)->stop();
  return ok();
}

}  // namespace fgraph::service
