// The web console's requests: routing under /ui/, sessions, the login form, CSRF checks,
// the embedded static files, and the writes behind confirmation forms. The pages
// themselves are built in console_pages.cpp.
#include "service/internal/console.h"

#include <algorithm>

#include "service/internal/auth.h"
#include "service/internal/console_pages.h"
#include "service/internal/html.h"
#include "service/internal/router.h"

namespace fgraph::service {

namespace console_assets {
extern const char* const kCss;
extern const char* const kJs;
}  // namespace console_assets

namespace {

constexpr std::string_view kSessionCookie = "fgraph_session";
constexpr std::string_view kLoginCookie = "fgraph_login";
constexpr std::uint64_t kMaxFormBytes = 64 * 1024;

// Scripts and styles from this origin only: no inline script or style, no eval, nothing
// from elsewhere, no framing, forms post only here.
constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const std::vector<Route>& console_routes() {
  static const std::vector<Route> kRoutes = {
      {"GET", "/ui", "ui_root", ""},
      {"GET", "/ui/", "ui_runs", ""},
      {"GET", "/ui/login", "ui_login_form", ""},
      {"POST", "/ui/login", "ui_login", ""},
      {"POST", "/ui/logout", "ui_logout", ""},
      {"GET", "/ui/static/{file}", "ui_static", ""},
      {"GET", "/ui/runs/{id}", "ui_run", ""},
      {"GET", "/ui/runs/{id}/dropped", "ui_dropped", ""},
      {"GET", "/ui/runs/{id}/documents/{doc}", "ui_document", ""},
      {"GET", "/ui/runs/{id}/rollback", "ui_rollback_confirm", ""},
      {"POST", "/ui/runs/{id}/rollback", "ui_rollback", ""},
      {"GET", "/ui/runs/{id}/replay", "ui_replay_confirm", ""},
      {"POST", "/ui/runs/{id}/replay", "ui_replay", ""},
      {"GET", "/ui/entities/{id}", "ui_entity", ""},
      {"GET", "/ui/merges/{id}/unmerge", "ui_unmerge_confirm", ""},
      {"POST", "/ui/merges/{id}/unmerge", "ui_unmerge", ""},
      {"GET", "/ui/search", "ui_search", ""},
      {"GET", "/ui/cost", "ui_cost", ""},
  };
  return kRoutes;
}

// Every response of the console: its security headers.
HttpResponse secured(HttpResponse r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "same-origin");
  if (std::none_of(r.headers.begin(), r.headers.end(),
                   [](const auto& h) { return h.first == "Cache-Control"; })) {
    r.headers.emplace_back("Cache-Control", "no-store");
  }
  return r;
}

HttpResponse html_page(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

HttpResponse redirect(std::string location) {
  HttpResponse r = html_page(303, "");
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

// A stage's error as a page, with the status the JSON API would answer.
HttpResponse error_page(const Error& e, const std::string& csrf) {
  const int status = from_error(e).status;
  std::string body = "<h1>" + std::to_string(status) + "</h1><p class=\"error\">";
  html::escape(body, redact_urls(e.message));
  body += "</p><p><a href=\"/ui/\">Back to the runs</a></p>";
  return html_page(status, html::page({"Error", csrf, ""}, body));
}

HttpResponse refused(std::string_view why) {
  std::string body = "<h1>403</h1><p class=\"error\">";
  html::escape(body, why);
  body += "</p><p><a href=\"/ui/login\">Log in</a></p>";
  return html_page(403, html::page({"Refused", "", ""}, body));
}

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return {};
}

std::string cookie(std::string_view name, std::string_view value, std::string_view path,
                   long max_age_s) {
  return std::string(name) + "=" + std::string(value) + "; Path=" + std::string(path) +
         "; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; SameSite=Strict";
}

// Where a login may send the browser back to: a console page, never another origin.
std::string safe_next(const std::string& next) {
  if (next.size() < 4 || next.rfind("/ui/", 0) != 0 || next.find("//") != std::string::npos ||
      next.find('\\') != std::string::npos) {
    return "/ui/";
  }
  for (unsigned char c : next) {
    if (c < 0x20 || c == 0x7f) return "/ui/";
  }
  return next;
}

std::string field(const std::map<std::string, std::string>& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

// A confirmation page: what will happen, and the form that does it.
std::string confirm_body(std::string_view question, std::string_view action,
                         std::string_view hidden, std::string_view button,
                         std::string_view back, const std::string& csrf) {
  std::string b = "<h1>Confirm</h1><p class=\"confirm\">";
  b += question;
  b += "</p><form method=\"post\" action=\"";
  b += action;
  b += "\"><input type=\"hidden\" name=\"csrf\" value=\"";
  html::escape(b, csrf);
  b += "\">";
  b += hidden;
  b += "<button type=\"submit\" class=\"danger\">";
  b += button;
  b += "</button> <a href=\"";
  b += back;
  b += "\">Cancel</a></form>";
  return b;
}

}  // namespace

Console::Console(Options options, LedgerPool& pool, AlertList& alerts, SubmitWrite submit)
    : options_(std::move(options)), pool_(pool), alerts_(alerts), submit_(std::move(submit)) {}

bool Console::owns(std::string_view path) { return path == "/ui" || path.rfind("/ui/", 0) == 0; }

std::optional<Console::Session> Console::session_of(const HttpRequest& request) {
  const std::string id = cookie_value(request.cookie, kSessionCookie);
  if (id.empty()) return std::nullopt;
  std::lock_guard l(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

std::string Console::new_session() {
  const auto now = std::chrono::steady_clock::now();
  std::string id = random_hex(32);
  std::lock_guard l(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires < now; });
  while (sessions_.size() >= options_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    sessions_.erase(oldest);
  }
  sessions_[id] = Session{random_hex(32), now + options_.session_lifetime};
  return id;
}

void Console::end_session(const HttpRequest& request) {
  const std::string id = cookie_value(request.cookie, kSessionCookie);
  std::lock_guard l(mu_);
  sessions_.erase(id);
}

BodyPlan Console::plan(HttpRequest& request) {
  BodyPlan p;
  RouteMatch m = match_route(console_routes(), request.method, request.path);
  if (m.route < 0) {
    HttpResponse r = html_page(m.allow.empty() ? 404 : 405,
                               html::page({"Not found", "", ""}, "<h1>Not found</h1>"));
    std::string allow;
    for (const auto& a : m.allow) allow += (allow.empty() ? "" : ", ") + a;
    if (!allow.empty()) r.headers.emplace_back("Allow", allow);
    p.reject = secured(std::move(r));
    return p;
  }
  const std::string_view op = console_routes()[m.route].operation_id;
  request.route = kRoute;
  request.params = std::move(m.params);
  request.params.insert(request.params.begin(), std::string(op));  // params[0]: the page
  const bool open = op == "ui_login_form" || op == "ui_login" || op == "ui_static";
  if (!open && !session_of(request)) {
    if (request.method != "GET") {
      p.reject = secured(refused("no session: log in first"));
    } else {
      std::string target = request.path == "/ui" ? "/ui/" : request.target;
      p.reject = secured(redirect("/ui/login?next=" + html::url_encode(target)));
    }
    return p;
  }
  p.limit = request.method == "POST" ? kMaxFormBytes : 0;
  return p;
}

void Console::handle(HttpRequest request, Reply reply) {
  Reply done = [reply](HttpResponse r) { reply(secured(std::move(r))); };
  try {
    const std::string& op = request.params[0];
    if (op == "ui_login_form") return done(login_form(request, 200, ""));
    if (op == "ui_login") return done(login(request));
    if (op == "ui_static") {
      HttpResponse r;
      const std::string& file = request.params[1];
      if (file == "console.css") {
        r.content_type = "text/css; charset=utf-8";
        r.body = console_assets::kCss;
      } else if (file == "console.js") {
        r.content_type = "text/javascript; charset=utf-8";
        r.body = console_assets::kJs;
      } else if (file == "favicon.svg") {
        r.content_type = "image/svg+xml";
        r.body = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
                 "<circle cx=\"8\" cy=\"8\" r=\"6\" fill=\"#2456c4\"/></svg>";
      } else {
        return done(html_page(404, html::page({"Not found", "", ""}, "<h1>Not found</h1>")));
      }
      r.headers.emplace_back("Cache-Control", "max-age=300");
      return done(std::move(r));
    }
    auto session = session_of(request);
    if (!session) return done(refused("the session ended: log in again"));
    HttpResponse r = answer(request, *session, done);
    if (r.status != 0) done(std::move(r));
  } catch (const std::exception& e) {
    logger("service")->error("{} {}: {}", request.method, request.path, e.what());
    done(html_page(500, html::page({"Error", "", ""}, "<h1>500</h1><p>internal error</p>")));
  }
}

HttpResponse Console::login_form(const HttpRequest& request, int status, std::string_view message) {
  auto q = parse_query(request.query).value_or(std::map<std::string, std::string>{});
  std::string next = safe_next(field(q, "next"));
  if (request.method == "POST") {
    next = safe_next(field(parse_query(request.body).value_or(std::map<std::string, std::string>{}), "next"));
  }
  // The login form's own CSRF token: a nonce in a cookie and in the form, which must agree
  // (a page of another origin can neither read the cookie nor set it).
  const std::string nonce = random_hex(16);
  std::string b = "<h1>Log in</h1>";
  if (!message.empty()) {
    b += "<p class=\"error\" role=\"alert\">";
    html::escape(b, message);
    b += "</p>";
  }
  b += "<form method=\"post\" action=\"/ui/login\" class=\"login\">"
       "<label>Service token <input type=\"password\" name=\"token\" autocomplete=\"current-password\""
       " required autofocus></label><input type=\"hidden\" name=\"csrf\" value=\"";
  b += nonce;
  b += "\"><input type=\"hidden\" name=\"next\" value=\"";
  html::escape(b, next);
  b += "\"><button type=\"submit\">Log in</button></form>"
       "<p class=\"hint\">The token is the one the API takes (FGRAPH_SERVICE_TOKEN, or the file "
       "service.token in the fgraph home).</p>";
  HttpResponse r = html_page(status, html::page({"Log in", "", ""}, b));
  r.headers.emplace_back("Set-Cookie", cookie(kLoginCookie, nonce, "/ui/login", 3600));
  return r;
}

HttpResponse Console::login(const HttpRequest& request) {
  auto form = parse_query(request.body);
  if (!form) return login_form(request, 400, "The form could not be read.");
  const std::string nonce = cookie_value(request.cookie, kLoginCookie);
  if (nonce.empty() || !tokens_equal(nonce, field(*form, "csrf"))) {
    return refused("the login form expired or came from elsewhere: reload it");
  }
  if (!tokens_equal(field(*form, "token"), options_.token)) {
    logger("service")->warn("console: a login with a wrong token");
    return login_form(request, 401, "That is not the service token.");
  }
  const std::string id = new_session();
  HttpResponse r = redirect(safe_next(field(*form, "next")));
  r.headers.emplace_back("Set-Cookie", cookie(kSessionCookie, id, "/ui",
                                              static_cast<long>(options_.session_lifetime.count())));
  r.headers.emplace_back("Set-Cookie", cookie(kLoginCookie, "", "/ui/login", 0));
  return r;
}

// A page, or status 0 when a write job will answer through `reply`.
HttpResponse Console::answer(HttpRequest& request, const Session& session, const Reply& reply) {
  const std::string op = request.params[0];
  const std::vector<std::string> params(request.params.begin() + 1, request.params.end());
  HttpResponse later;
  later.status = 0;

  if (request.method == "POST") {
    auto form = parse_query(request.body);
    if (!form || !tokens_equal(field(*form, "csrf"), session.csrf)) {
      return refused("the form's CSRF token is missing or wrong: reload the page");
    }
    if (op == "ui_logout") {
      end_session(request);
      HttpResponse r = redirect("/ui/login");
      r.headers.emplace_back("Set-Cookie", cookie(kSessionCookie, "", "/ui", 0));
      return r;
    }
    const std::string csrf = session.csrf;
    if (op == "ui_rollback" || op == "ui_replay") {
      const std::string run_id = params[0];
      std::optional<std::string> doc;
      if (auto d = field(*form, "doc_id"); !d.empty()) doc = d;
      const bool rollback = op == "ui_rollback";
      submit_({"run:" + run_id}, reply, [this, run_id, doc, rollback, csrf](LedgerContext& w) {
        run::Coordinator coordinator(options_.run, *w.store, *w.transport, w.clock, w.progress);
        Status st = ok();
        if (rollback) {
          st = coordinator.rollback(run_id, doc);
        } else if (auto replayed = coordinator.replay(run_id); !replayed) {
          st = replayed.error();
        }
        if (!st) return error_page(st.error(), csrf);
        return redirect("/ui/runs/" + html::url_encode(run_id));
      });
      return later;
    }
    if (op == "ui_unmerge") {
      const std::string merge_id = params[0];
      const std::string entity = field(*form, "entity");
      submit_({"merge:" + merge_id}, reply, [merge_id, entity, csrf](LedgerContext& w) {
        Status st = w.registry->unmerge(merge_id);
        if (!st) return error_page(st.error(), csrf);
        return redirect(entity.empty() ? "/ui/" : "/ui/entities/" + html::url_encode(entity));
      });
      return later;
    }
    return refused("no such action");
  }

  auto query = parse_query(request.query);
  if (!query) return error_page(make_error(ErrorCode::kInvalidInput, "malformed query string"), session.csrf);
  if (op == "ui_root") return redirect("/ui/");
  if (op == "ui_rollback_confirm" || op == "ui_replay_confirm") {
    const std::string& run_id = params[0];
    const std::string doc = field(*query, "doc_id");
    const std::string run_link = "/ui/runs/" + html::url_encode(run_id);
    std::string what, hidden;
    if (op == "ui_replay_confirm") {
      what = "Replay run <code>" + html::escape(run_id) +
             "</code>? Its documents are staged again from the ledger, with no model calls.";
    } else if (doc.empty()) {
      what = "Roll back run <code>" + html::escape(run_id) +
             "</code>? Its facts, mentions and nodes leave Neo4j, and what it taught the "
             "registry is undone.";
    } else {
      what = "Roll back document <code>" + html::escape(doc) + "</code> of run <code>" +
             html::escape(run_id) + "</code>? Its contributions leave Neo4j and the registry.";
      hidden = "<input type=\"hidden\" name=\"doc_id\" value=\"" + html::escape(doc) + "\">";
    }
    const bool replay = op == "ui_replay_confirm";
    std::string body = confirm_body(what, run_link + (replay ? "/replay" : "/rollback"), hidden,
                                    replay ? "Replay" : "Roll back", run_link, session.csrf);
    return html_page(200, html::page({"Confirm", session.csrf, ""}, body));
  }
  if (op == "ui_unmerge_confirm") {
    const std::string entity = field(*query, "entity");
    std::string what = "Undo merge <code>" + html::escape(params[0]) +
                       "</code>? The merged entity becomes an entity of its own again.";
    std::string hidden = "<input type=\"hidden\" name=\"entity\" value=\"" + html::escape(entity) + "\">";
    std::string back = entity.empty() ? "/ui/" : "/ui/entities/" + html::url_encode(entity);
    std::string body = confirm_body(what, "/ui/merges/" + html::url_encode(params[0]) + "/unmerge",
                                    hidden, "Unmerge", back, session.csrf);
    return html_page(200, html::page({"Confirm", session.csrf, ""}, body));
  }

  using Builder = Result<pages::Rendered> (*)(const pages::Request&);
  static const std::map<std::string, Builder> kPages = {
      {"ui_runs", pages::runs},         {"ui_run", pages::run},
      {"ui_dropped", pages::dropped},   {"ui_document", pages::document},
      {"ui_entity", pages::entity},     {"ui_search", pages::search},
      {"ui_cost", pages::cost},
  };
  auto builder = kPages.find(op);
  if (builder == kPages.end()) return error_page(make_error(ErrorCode::kNotFound, "no such page"), session.csrf);
  auto rendered = pool_.with([&](LedgerContext& c) -> Result<pages::Rendered> {
    return builder->second({c, options_.run, alerts_, params, *query, session.csrf});
  });
  if (!rendered) return error_page(rendered.error(), session.csrf);
  return html_page(200, html::page({rendered->title, session.csrf, rendered->search}, rendered->body));
}

}  // namespace fgraph::service
