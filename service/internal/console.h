// The web console under /ui/ (issue 19): server-rendered pages over the same typed calls
// the JSON API answers from (run::Coordinator, the registry, verify's records), a login
// form that turns the service token into a session cookie, a CSRF token on every form,
// and the stylesheet and script embedded at build time (service/ui/).
//
// Sessions live in memory (a restart logs everyone out): a random id in an HttpOnly,
// SameSite=Strict cookie scoped to /ui, each with its own CSRF token, 12 hours at most.
// Every response carries a Content-Security-Policy that allows scripts and styles from
// the service itself only (no inline script, no other origin).
//
// Threading: plan() and handle() run on HTTP threads; sessions are guarded by a mutex;
// reads go through the LedgerPool; writes (rollback, replay, unmerge) are handed to the
// service's job executor through SubmitWrite and answer when the job has run.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "run/run.h"
#include "service/internal/http.h"
#include "service/internal/ledger.h"
#include "service/service.h"

namespace fgraph::service {

class Console {
 public:
  // HttpRequest::route of a request the console planned.
  static constexpr int kRoute = -2;
  // A write: runs on the writer thread with the writer's ledger; its answer is the reply.
  using WriteBody = std::function<HttpResponse(LedgerContext&)>;
  using SubmitWrite =
      std::function<void(const std::vector<std::string>& keys, Reply reply, WriteBody body)>;

  struct Options {
    std::string token;       // the service's bearer token, which the login form takes
    run::Settings run;       // for the Coordinator the pages read through
    std::chrono::seconds session_lifetime{12 * 3600};
    std::size_t max_sessions = 1000;  // beyond: the oldest session ends
  };

  Console(Options options, LedgerPool& pool, AlertList& alerts, SubmitWrite submit);

  // True for "/ui" and everything under "/ui/".
  static bool owns(std::string_view path);
  // Routes the request (sets route = kRoute and params; params[0] is the page's name),
  // checks its session, and says how to read its body (a form of at most 64 KiB). A page
  // without a session redirects to the login; a POST without a session is refused with
  // 403 before its body is read (handle() refuses one without the session's CSRF token).
  BodyPlan plan(HttpRequest& request);
  void handle(HttpRequest request, Reply reply);

  struct Page;  // a page's request, as its builder sees it (console_pages.cpp)

 private:
  struct Session {
    std::string csrf;
    std::chrono::steady_clock::time_point expires;
  };
  std::optional<Session> session_of(const HttpRequest& request);
  std::string new_session();  // its id
  void end_session(const HttpRequest& request);

  HttpResponse login_form(const HttpRequest& request, int status, std::string_view message);
  HttpResponse login(const HttpRequest& request);
  HttpResponse answer(HttpRequest& request, const Session& session, const Reply& reply);

  Options options_;
  LedgerPool& pool_;
  AlertList& alerts_;
  SubmitWrite submit_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;  // by session id
};

}  // namespace fgraph::service
