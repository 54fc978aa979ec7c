#include "service/internal/html.h"

#include <cstdio>

namespace fgraph::service::html {

void escape(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size());
  std::size_t plain = 0;  // start of the run of bytes copied as they are
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char* entity = nullptr;
    switch (text[i]) {
      case '&': entity = "&amp;"; break;
      case '<': entity = "&lt;"; break;
      case '>': entity = "&gt;"; break;
      case '"': entity = "&quot;"; break;
      case '\'': entity = "&#39;"; break;
      case '\0': entity = "\xEF\xBF\xBD"; break;
      default: continue;
    }
    out.append(text.substr(plain, i - plain));
    out.append(entity);
    plain = i + 1;
  }
  out.append(text.substr(plain));
}

std::string escape(std::string_view text) {
  std::string out;
  escape(out, text);
  return out;
}

std::string url_encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string clipped(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max_chars) return std::string(text.substr(0, i)) + "\u2026";
  }
  return std::string(text);
}

std::string dollars(double usd) {
  char buf[64];
  std::snprintf(buf, sizeof buf, usd < 1 ? "$%.4f" : "$%.2f", usd);
  return buf;
}

std::string page(const Frame& frame, std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2048);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>";
  escape(out, frame.title);
  out += " · fgraph</title><link rel=\"icon\" href=\"/ui/static/favicon.svg\">"
         "<link rel=\"stylesheet\" href=\"/ui/static/console.css\">"
         "<script src=\"/ui/static/console.js\" defer></script></head><body>"
         "<header><a class=\"brand\" href=\"/ui/\">fgraph</a>";
  if (!frame.csrf.empty()) {
    out += "<nav><a href=\"/ui/\">Runs</a><a href=\"/ui/cost\">Cost</a></nav>"
           "<form class=\"search\" method=\"get\" action=\"/ui/search\" role=\"search\">"
           "<input type=\"search\" name=\"q\" placeholder=\"Entity, CIK, accession, form\" value=\"";
    escape(out, frame.search);
    out += "\" aria-label=\"Search\"><button type=\"submit\">Search</button></form>"
           "<form class=\"logout\" method=\"post\" action=\"/ui/logout\">"
           "<input type=\"hidden\" name=\"csrf\" value=\"";
    escape(out, frame.csrf);
    out += "\"><button type=\"submit\">Log out</button></form>";
  }
  out += "</header><main>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

std::string pager(std::string_view base, std::int64_t page, std::int64_t per_page,
                  std::int64_t total) {
  const std::int64_t pages = total <= 0 ? 1 : (total + per_page - 1) / per_page;
  if (pages <= 1) return {};
  std::string out = "<nav class=\"pager\">";
  auto link = [&](std::int64_t p, std::string_view label, std::string_view rel) {
    out += "<a rel=\"";
    out += rel;
    out += "\" href=\"";
    out += base;
    out += "page=" + std::to_string(p) + "\">";
    out += label;
    out += "</a>";
  };
  if (page > 1) link(page - 1, "&larr; previous", "prev");
  out += "<span>page " + std::to_string(page) + " of " + std::to_string(pages) + " (" +
         std::to_string(total) + ")</span>";
  if (page < pages) link(page + 1, "next &rarr;", "next");
  out += "</nav>";
  return out;
}

}  // namespace fgraph::service::html
