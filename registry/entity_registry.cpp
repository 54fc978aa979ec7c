// The entity registry: resolution cascade, merges, journal and rollback (registry.h).
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "registry/internal/names.h"
#include "registry/internal/trigram_index.h"
#include "registry/registry.h"

namespace fgraph::registry {
namespace {

using nlohmann::json;

constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%SZ','now')";
constexpr int kMaxMergeHops = 64;
constexpr std::size_t kFindSubstringRows = 2000;

// Every column of an entity, in EntityRow order.
constexpr const char* kEntityColumns =
    "rid, entity_id, type, name, norm_name, core_name, legal_form, cik, ticker, lei,"
    " jurisdiction, authoritative, possible_duplicate_of, merged_into, created_run,"
    " created_doc, cusip";

struct EntityRow {
  std::int64_t rid = 0;
  std::string entity_id, type, name, norm_name, core_name, legal_form;
  std::optional<std::string> cik, ticker, lei, jurisdiction;
  bool authoritative = false;
  std::optional<std::string> possible_duplicate_of, merged_into, created_run, created_doc;
  std::optional<std::string> cusip;  // the CUSIP issuer number (6 characters)
};

EntityRow read_entity(const Statement& s) {
  EntityRow e;
  e.rid = s.column_int(0);
  e.entity_id = s.column_text(1);
  e.type = s.column_text(2);
  e.name = s.column_text(3);
  e.norm_name = s.column_text(4);
  e.core_name = s.column_text(5);
  e.legal_form = s.column_text(6);
  e.cik = s.column_optional(7);
  e.ticker = s.column_optional(8);
  e.lei = s.column_optional(9);
  e.jurisdiction = s.column_optional(10);
  e.authoritative = s.column_int(11) != 0;
  e.possible_duplicate_of = s.column_optional(12);
  e.merged_into = s.column_optional(13);
  e.created_run = s.column_optional(14);
  e.created_doc = s.column_optional(15);
  e.cusip = s.column_optional(16);
  return e;
}

// A text that is not valid UTF-8 (or holds NUL) goes into JSON as {"hex": ...} so that
// images and dumps stay exact.
json text_json(const std::string& s) {
  if (internal::is_clean_utf8(s)) return s;
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : s) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return json{{"hex", hex}};
}

std::string text_from_json(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  std::string hex = j.at("hex").get<std::string>();
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

json opt_json(const std::optional<std::string>& v) { return v ? text_json(*v) : json(nullptr); }

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json entity_json(const EntityRow& e) {
  return json{{"rid", e.rid},
              {"entity_id", e.entity_id},
              {"type", text_json(e.type)},
              {"name", text_json(e.name)},
              {"cik", opt_json(e.cik)},
              {"ticker", opt_json(e.ticker)},
              {"lei", opt_json(e.lei)},
              {"cusip", opt_json(e.cusip)},
              {"jurisdiction", opt_json(e.jurisdiction)},
              {"authoritative", e.authoritative},
              {"possible_duplicate_of", opt_json(e.possible_duplicate_of)}};
}

// The fields an "update" journal entry changes and restores.
json identity_image(const EntityRow& e) {
  return json{{"name", text_json(e.name)},       {"cik", opt_json(e.cik)},
              {"ticker", opt_json(e.ticker)},    {"lei", opt_json(e.lei)},
              {"cusip", opt_json(e.cusip)},      {"jurisdiction", opt_json(e.jurisdiction)},
              {"authoritative", e.authoritative}};
}

std::optional<std::string> non_empty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

Result<std::string> normalize_cik(std::string_view raw) {
  std::string t = trim(raw);
  if (t.empty() || t.size() > 10 ||
      !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return make_error(ErrorCode::kInvalidInput,
                      "CIK must be 1 to 10 digits, got '" + std::string(raw.substr(0, 40)) + "'");
  }
  return std::string(10 - t.size(), '0') + t;
}

Result<std::string> normalize_lei(std::string_view raw) {
  std::string t = trim(raw);
  for (char& c : t) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (t.size() != 20 || !std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
      })) {
    return make_error(ErrorCode::kInvalidInput,
                      "LEI must be 20 letters or digits, got '" + std::string(raw.substr(0, 40)) +
                          "'");
  }
  return t;
}

}  // namespace

// A CUSIP: 9 letters or digits whose last is the check digit of the first 8 (the
// "modulus 10 double add double" of CUSIP Global Services; '*', '@', '#' are not taken).
Result<std::string> normalize_cusip(std::string_view raw) {
  std::string t = trim(raw);
  for (char& c : t) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  auto refuse = [&]() {
    return make_error(ErrorCode::kInvalidInput,
                      "CUSIP must be 9 letters or digits with a valid check digit, got '" +
                          std::string(raw.substr(0, 40)) + "'");
  };
  if (t.size() != 9 || !std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
      })) {
    return refuse();
  }
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    int v = t[i] <= '9' ? t[i] - '0' : t[i] - 'A' + 10;
    if (i % 2 == 1) v *= 2;
    sum += v / 10 + v % 10;
  }
  if ((10 - sum % 10) % 10 != t[8] - '0') return refuse();
  return t;
}

namespace {

std::string upper_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// An input checked and normalised once.
struct Prepared {
  const EntityInput* in = nullptr;
  std::string name;  // the canonical spelling: the input's, less its invisible code points
  std::string norm, core, legal;
  std::optional<std::string> cik, lei, ticker;
  std::optional<std::string> cusip;  // the issuer number: a valid CUSIP's first 6 characters
};

Result<Prepared> prepare_input(const EntityInput& in) {
  Prepared p;
  p.in = &in;
  if (trim(in.type).empty()) return make_error(ErrorCode::kInvalidInput, "entity type is empty");
  p.name = without_default_ignorables(in.name);
  p.norm = normalize_name(in.name);
  if (p.norm.empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      "entity name is empty or only whitespace and invisible characters");
  }
  p.core = core_name(p.norm);
  p.legal = internal::legal_form(p.norm);
  if (in.cik) {
    auto c = normalize_cik(*in.cik);
    if (!c) return c.error();
    p.cik = std::move(*c);
  }
  if (in.lei) {
    auto l = normalize_lei(*in.lei);
    if (!l) return l.error();
    p.lei = std::move(*l);
  }
  if (in.ticker && !trim(*in.ticker).empty()) p.ticker = upper_ascii(trim(*in.ticker));
  if (in.cusip) {
    auto c = normalize_cusip(*in.cusip);
    if (!c) return c.error();
    p.cusip = c->substr(0, 6);
  }
  return p;
}

bool conflicts(const EntityRow& e, const Prepared& p) {
  return (p.cik && e.cik && *p.cik != *e.cik) || (p.lei && e.lei && *p.lei != *e.lei) ||
         (p.cusip && e.cusip && *p.cusip != *e.cusip);
}

// The tokens of a name that hold digits ("block 15", "fund ii 2024"): names that differ
// in them are different entities however close the rest is.
std::vector<std::string> number_tokens(std::string_view norm) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < norm.size()) {
    size_t j = norm.find(' ', i);
    if (j == std::string_view::npos) j = norm.size();
    std::string_view t = norm.substr(i, j - i);
    if (std::any_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.emplace_back(t);
    }
    i = j + 1;
  }
  return out;
}

std::vector<std::u32string> tokens_of(std::string_view text) {
  std::vector<std::u32string> out(1);
  for (char32_t c : internal::decode_utf8(text)) {
    if (c == U' ') {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

std::size_t edit_distance(const std::u32string& a, const std::u32string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// A fuzzy match may only absorb a misspelling: the same words but for one, and that
// one within a small edit distance. An added or dropped word ("Nigeria (Deepwater)
// Limited" against "Nigeria Limited") is a different entity, flagged for review.
bool is_misspelling(std::string_view core_a, std::string_view core_b) {
  auto ta = tokens_of(core_a), tb = tokens_of(core_b);
  if (ta.size() != tb.size()) return false;
  int differing = 0;
  for (std::size_t i = 0; i < ta.size(); ++i) {
    if (ta[i] == tb[i]) continue;
    if (++differing > 1) return false;
    std::size_t allowed = std::min(ta[i].size(), tb[i].size()) / 4;  // 0 below 4 letters
    if (edit_distance(ta[i], tb[i]) > allowed) return false;
  }
  return true;
}

bool legal_compatible(const std::string& a, const std::string& b) {
  return a.empty() || b.empty() || a == b;
}

struct Scored {
  EntityRow entity;  // the survivor
  double score = 0;
};

// Hints of the names the registry knows (see Impl::entity_names): a 64-bit hash of an
// entity's (type, normalised name), or of an alias's normalised name.
std::uint64_t name_hint(std::string_view type, std::string_view norm) {
  const std::hash<std::string_view> hash;
  return hash(norm) ^ (hash(type) * 0x9E3779B97F4A7C15ULL);
}
std::uint64_t alias_hint(std::string_view norm) { return std::hash<std::string_view>{}(norm); }

}  // namespace

// The fuzzy step's candidates for a group of inputs, searched on a second thread while
// the group is resolved (resolve_all). The thread skips every input whose normalised name
// an entity or alias already has by the hints (the exact and alias steps will decide
// those) and searches the index for the rest from the group's last input backwards, until
// it meets the resolving thread, which searches the inputs it comes to first itself: the
// two share the searches and neither waits for the other. (In input order, just ahead of
// the resolving thread, the two went in lockstep: at the registry bench's scale a search
// costs more than the rest of a resolution, and the resolving thread waited for this one
// a third of its time. Backwards: 1.05-1.14x the resolutions/s, paired runs.)
// While it runs the index and the hints are frozen; the entities the group creates go to
// `fresh` (searched as well) and join the index once it has stopped. A search result is
// the same on either thread, so resolution stays deterministic.
class FuzzyPrefetch {
 public:
  FuzzyPrefetch(const std::vector<Prepared>& inputs, const internal::TrigramIndex& index,
                const std::unordered_set<std::uint64_t>& entity_names,
                const std::unordered_set<std::uint64_t>& alias_names, double threshold,
                std::size_t max_keys)
      : inputs_(inputs),
        index_(index),
        entity_names_(entity_names),
        alias_names_(alias_names),
        threshold_(threshold),
        max_keys_(max_keys),
        hits_(inputs.size()),
        state_(std::make_unique<std::atomic<std::uint8_t>[]>(inputs.size())) {
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  }
  ~FuzzyPrefetch() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

  // The resolving thread is at input `i`: the prefetch thread stops when it comes to it.
  void at(std::size_t i) { at_.store(i, std::memory_order_relaxed); }
  // The index's hits for input `i`'s core at `threshold`: waits for them when the
  // thread is searching them; nullopt when the caller must search (the thread has not
  // come to it, and now will not, or skipped it).
  std::optional<std::vector<internal::TrigramIndex::Hit>> take(std::size_t i,
                                                               const std::string& core,
                                                               double threshold) {
    if (i >= inputs_.size() || threshold != threshold_ || core != inputs_[i].core) {
      return std::nullopt;
    }
    std::uint8_t s = kIdle;
    if (state_[i].compare_exchange_strong(s, kTaken, std::memory_order_acq_rel)) {
      return std::nullopt;
    }
    if (s == kSearching) {
      state_[i].wait(kSearching, std::memory_order_acquire);
      s = state_[i].load(std::memory_order_acquire);
    }
    if (s != kReady) return std::nullopt;
    return std::move(hits_[i]);
  }

  struct FreshRow {
    std::int64_t rid;
    std::string core;
    std::uint64_t name;
  };
  internal::TrigramIndex fresh;     // created in this group
  std::vector<FreshRow> fresh_rows;  // the same, in order, to join the index and hints
  // The names of the group's new entities and aliases, for the resolving thread only.
  std::unordered_set<std::uint64_t> fresh_names, fresh_aliases;

 private:
  void run(std::stop_token stop) {
    internal::TrigramIndex::Scratch scratch;
    for (std::size_t i = inputs_.size(); i-- > 0 && !stop.stop_requested();) {
      if (i <= at_.load(std::memory_order_relaxed)) break;
      const Prepared& p = inputs_[i];
      if (entity_names_.contains(name_hint(p.in->type, p.norm)) ||
          alias_names_.contains(alias_hint(p.norm))) {
        continue;
      }
      auto keys = internal::trigram_keys(p.core);
      if (keys.empty() || keys.size() > max_keys_) continue;
      std::uint8_t s = kIdle;
      if (!state_[i].compare_exchange_strong(s, kSearching, std::memory_order_acq_rel)) {
        continue;  // the resolving thread took it
      }
      hits_[i] = index_.search(keys, threshold_, scratch);
      state_[i].store(kReady, std::memory_order_release);
      state_[i].notify_one();
    }
  }

  const std::vector<Prepared>& inputs_;
  const internal::TrigramIndex& index_;
  const std::unordered_set<std::uint64_t>& entity_names_;
  const std::unordered_set<std::uint64_t>& alias_names_;
  const double threshold_;
  const std::size_t max_keys_;
  // Per input: idle, then searching and ready (this thread), or taken (the resolving
  // thread searches it). The resolving thread waits for a search in progress rather than
  // repeating it.
  static constexpr std::uint8_t kIdle = 0, kSearching = 1, kReady = 2, kTaken = 3;
  std::vector<std::vector<internal::TrigramIndex::Hit>> hits_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> state_;
  std::atomic<std::size_t> at_{0};
  std::jthread thread_;  // last: stops before the members it uses go
};

struct EntityRegistry::Impl {
  Store& store;
  RegistryOptions options;
  SystemClock system_clock;
  Clock* clock;
  std::shared_ptr<spdlog::logger> log = logger("registry");

  Impl(Store& s, RegistryOptions o, Clock* c)
      : store(s),
        options(std::move(o)),
        clock(c != nullptr ? c : &system_clock),
        index(fuzzy_floor()) {}

  // Prepared statements by SQL text; hashed, because Store's ordered cache compares
  // long common prefixes on every lookup, which showed up first in profiles.
  std::unordered_map<std::string, Statement*> statements;
  Result<Statement*> cached(const std::string& sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) {
      it->second->reset();
      return it->second;
    }
    auto st = store.cached(sql);
    if (!st) return st.error();
    statements.emplace(sql, *st);
    return *st;
  }

  template <typename F>
  Status write(F&& body) {
    return with_retry(options.retry, *clock, [&]() -> Status {
      index_fresh = false;
      index_changed = false;
      aliases_fresh = false;
      Status s = store.transaction(body);
      // A rolled-back transaction takes with it the rows the index learnt inside it, and
      // alias ids the alias sync may have read past.
      if (!s && (index_changed || aliases_fresh)) index_valid = false;
      index_fresh = false;
      aliases_fresh = false;
      return s;
    });
  }

  // ---- the fuzzy index ------------------------------------------------------------
  // An in-memory mirror of entities.core_name (see trigram_index.h), brought up to date
  // once per transaction (and per find) before its first fuzzy lookup: rows above the
  // largest rid it holds are added; a changed entity_index_epoch (a row deleted or
  // rewritten, by any process or code path, see migration 0101) or a shrunk max(rid)
  // rebuilds it. Inside a write transaction the database cannot change under it.
  internal::TrigramIndex index;
  internal::TrigramIndex::Scratch scratch;  // this thread's
  bool index_valid = false;    // false: rebuild at the next sync
  std::int64_t index_epoch = -1;
  bool index_fresh = false;    // synced within the current transaction (or find)
  bool index_changed = false;  // learnt rows within the current write attempt

  // The names the registry knows: name_hint of every entity row, alias_hint of every
  // alias. Once synced in a transaction (sync_names) they hold a hash of every row of
  // the database (plus, possibly, of rows since deleted): a name whose hash is missing
  // has no entity or alias, and resolve_one skips those lookups; a hash present costs
  // the lookup, so a stale entry or a collision never changes a result. Entity names
  // are synced with the index; aliases by alias_id above alias_hint_max; whatever else
  // changes a row bumps the epoch (migrations 0101, 0104), which clears both. The
  // prefetch thread reads them too, to skip inputs, so while it runs they are frozen and
  // the group's own names go to FuzzyPrefetch::fresh_names/fresh_aliases. About 40 bytes
  // per name.
  std::unordered_set<std::uint64_t> entity_names, alias_names;
  std::int64_t alias_hint_max = 0;
  std::int64_t alias_hints = 0;  // alias rows read into alias_names
  bool aliases_fresh = false;  // alias_names synced within the current transaction

  // Set inside resolve_all while a prefetch thread searches ahead (see FuzzyPrefetch);
  // input_at is the input being resolved.
  FuzzyPrefetch* prefetch = nullptr;
  std::size_t input_at = 0;

  // Whether an entity of `type` or an alias may have the normalised name `norm`; false
  // only when none has (see entity_names; needs sync_names in this transaction).
  bool may_be_named(const std::string& type, const std::string& norm) const {
    const std::uint64_t h = name_hint(type, norm);
    return entity_names.contains(h) || (prefetch != nullptr && prefetch->fresh_names.contains(h));
  }
  bool may_be_alias(const std::string& norm) const {
    const std::uint64_t h = alias_hint(norm);
    return alias_names.contains(h) || (prefetch != nullptr && prefetch->fresh_aliases.contains(h));
  }

  // An entity row joins the index and the hints.
  void learn(std::int64_t rid, const std::string& core, std::uint64_t name) {
    if (!index.add(rid, core)) index_valid = index_fresh = false;
    entity_names.insert(name);
  }

  // Brings the index and the name hints up to date within this transaction.
  Status sync_names() {
    if (!index_fresh) {
      if (auto s = sync_index(); !s) return s;
    }
    if (aliases_fresh) return ok();
    aliases_fresh = true;
    auto read = cached(
        "SELECT alias_id, norm FROM entity_aliases WHERE alias_id > ? ORDER BY alias_id");
    if (!read) return read.error();
    auto count = cached("SELECT count(*) FROM entity_aliases");
    if (!count) return count.error();
    // Two passes at most: when the aliases outnumber those read, one was inserted below
    // alias_hint_max (see migration 0104), and all are read again.
    for (int pass = 0; pass < 2; ++pass) {
      (*read)->reset();
      (*read)->bind(1, alias_hint_max);
      while (true) {
        auto more = (*read)->step();
        if (!more) return more.error();
        if (!*more) break;
        alias_hint_max = (*read)->column_int(0);
        alias_names.insert(alias_hint((*read)->column_text(1)));
        ++alias_hints;
      }
      (*count)->reset();
      if (auto row = (*count)->step(); !row) return row.error();
      if ((*count)->column_int(0) == alias_hints) return ok();
      alias_names.clear();
      alias_hint_max = alias_hints = 0;
    }
    return make_error(ErrorCode::kInternal, "entity_aliases changed during its own sync");
  }

  Status sync_index() {
    auto st = cached("SELECT (SELECT n FROM entity_index_epoch WHERE id = 1),"
                     " (SELECT coalesce(max(rid), 0) FROM entities)");
    if (!st) return st.error();
    if (auto row = (*st)->step(); !row) return row.error();
    const std::int64_t epoch = (*st)->column_int(0);
    const std::int64_t max_rid = (*st)->column_int(1);
    (*st)->reset();
    if (!index_valid || epoch != index_epoch || max_rid < index.max_rid()) {
      index.clear();
      entity_names.clear();
      alias_names.clear();
      alias_hint_max = alias_hints = 0;
      aliases_fresh = false;
      index_valid = false;
    }
    if (max_rid > index.max_rid()) {
      auto rows = cached("SELECT rid, core_name, type, norm_name FROM entities WHERE rid > ?"
                         " ORDER BY rid");
      if (!rows) return rows.error();
      (*rows)->bind(1, index.max_rid());
      while (true) {
        auto more = (*rows)->step();
        if (!more) return more.error();
        if (!*more) break;
        index.add((*rows)->column_int(0), (*rows)->column_text(1));
        entity_names.insert(name_hint((*rows)->column_text(2), (*rows)->column_text(3)));
      }
      index_changed = true;
    }
    index_valid = true;
    index_epoch = epoch;
    index_fresh = true;
    return ok();
  }

  // ---- reads -------------------------------------------------------------------
  Result<std::optional<EntityRow>> load(std::string_view entity_id) {
    auto st = cached(std::string("SELECT ") + kEntityColumns +
                           " FROM entities WHERE entity_id = ?");
    if (!st) return st.error();
    (*st)->bind(1, entity_id);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<EntityRow>();
    return std::optional<EntityRow>(read_entity(**st));
  }

  Result<std::optional<EntityRow>> load_rid(std::int64_t rid) {
    auto st = cached(std::string("SELECT ") + kEntityColumns + " FROM entities WHERE rid = ?");
    if (!st) return st.error();
    (*st)->bind(1, rid);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<EntityRow>();
    return std::optional<EntityRow>(read_entity(**st));
  }

  // Follows merged_into to the live survivor.
  Result<EntityRow> survivor(EntityRow e) {
    for (int hop = 0; e.merged_into && hop < kMaxMergeHops; ++hop) {
      auto next = load(*e.merged_into);
      if (!next) return next.error();
      if (!next->has_value()) {
        return make_error(ErrorCode::kInternal,
                          "entity " + e.entity_id + " is merged into a missing " + *e.merged_into);
      }
      e = std::move(**next);
    }
    if (e.merged_into) return make_error(ErrorCode::kInternal, "merge chain too long at " + e.entity_id);
    return e;
  }

  // Runs a query returning entity columns; collects the survivors, deduplicated, in
  // order (of rid, when `sort`).
  Result<std::vector<EntityRow>> survivors_of(Statement& st, bool sort = false) {
    std::vector<EntityRow> rows;
    while (true) {
      auto more = st.step();
      if (!more) return more.error();
      if (!*more) break;
      rows.push_back(read_entity(st));
    }
    if (sort) {
      std::stable_sort(rows.begin(), rows.end(),
                       [](const EntityRow& a, const EntityRow& b) { return a.rid < b.rid; });
    }
    std::vector<EntityRow> out;
    for (auto& r : rows) {
      auto s = survivor(std::move(r));
      if (!s) return s.error();
      bool seen = std::any_of(out.begin(), out.end(),
                              [&](const EntityRow& o) { return o.entity_id == s->entity_id; });
      if (!seen) out.push_back(std::move(*s));
    }
    return out;
  }

  Result<std::vector<EntityRow>> by_identifier(const char* column, const std::string& value) {
    auto st = cached(std::string("SELECT ") + kEntityColumns + " FROM entities WHERE " +
                           column + " = ? ORDER BY rid");
    if (!st) return st.error();
    (*st)->bind(1, value);
    return survivors_of(**st);
  }

  Result<std::vector<EntityRow>> by_norm(const std::string& type, const std::string& norm) {
    auto st = cached(std::string("SELECT ") + kEntityColumns +
                           " FROM entities WHERE type = ? AND norm_name = ? ORDER BY rid");
    if (!st) return st.error();
    (*st)->bind(1, type).bind(2, norm);
    return survivors_of(**st);
  }

  Result<std::vector<EntityRow>> by_norm_any_type(const std::string& norm) {
    auto st = cached(std::string("SELECT ") + kEntityColumns +
                           " FROM entities WHERE norm_name = ? ORDER BY rid");
    if (!st) return st.error();
    (*st)->bind(1, norm);
    return survivors_of(**st);
  }

  // A join sorted here: `entity_id IN (SELECT ...) ORDER BY rid` builds a list and a sort
  // for every call: 1.4-1.9x the time of the join per lookup, timed over the registry
  // bench's database of 200k entities after 1M names.
  Result<std::vector<EntityRow>> by_alias(const std::string& norm) {
    static const std::string kSql = [] {
      std::string sql = "SELECT e.", columns = kEntityColumns;
      for (char c : columns) sql += c == ' ' ? std::string(" e.") : std::string(1, c);
      return sql + " FROM entity_aliases a JOIN entities e ON e.entity_id = a.entity_id"
                   " WHERE a.norm = ?";
    }();
    auto st = cached(kSql);
    if (!st) return st.error();
    (*st)->bind(1, norm);
    return survivors_of(**st, true);
  }

  // Entities scoring at least `threshold` against `core` that `keep` accepts, resolved
  // to survivors and deduplicated, best first (ties by creation order), at most
  // `max_results`. The index finds every entity row scoring >= threshold; the best
  // max_fuzzy_rows of them are looked at.
  template <typename Keep>
  Result<std::vector<Scored>> fuzzy(const std::string& core, double threshold,
                                    std::size_t max_results, Keep&& keep) {
    std::vector<Scored> out;
    auto keys = internal::trigram_keys(core);
    if (keys.empty() || keys.size() > options.max_fuzzy_trigrams) return out;
    if (!index_fresh) {
      if (auto s = sync_index(); !s) return s.error();
    }
    std::vector<internal::TrigramIndex::Hit> hits;
    if (prefetch == nullptr) {
      hits = index.search(keys, threshold, scratch);
    } else {
      auto ready = prefetch->take(input_at, core, threshold);
      hits = ready ? std::move(*ready) : index.search(keys, threshold, scratch);
      auto fresh = prefetch->fresh.search(keys, threshold, scratch);
      hits.insert(hits.end(), fresh.begin(), fresh.end());
    }
    std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
      return a.score != b.score ? a.score > b.score : a.rid < b.rid;
    });
    if (hits.size() > options.max_fuzzy_rows) hits.resize(options.max_fuzzy_rows);
    std::unordered_set<std::string> seen;
    for (const auto& [score, rid] : hits) {
      if (out.size() >= max_results) break;
      auto row = load_rid(rid);
      if (!row) return row.error();
      if (!row->has_value()) continue;
      auto s = survivor(std::move(**row));
      if (!s) return s.error();
      if (!keep(*s) || !seen.insert(s->entity_id).second) continue;
      out.push_back({std::move(*s), score});
    }
    return out;
  }

  // The fuzzy step's candidate threshold: low enough that the runner-up within the
  // margin and every reviewable candidate are always found.
  double fuzzy_floor() const {
    return std::min(options.fuzzy_review, options.fuzzy_accept - options.fuzzy_margin);
  }

  // ---- writes (inside a transaction) -------------------------------------------
  Status journal(const std::string& run_id, const char* op, const std::string& entity_id,
                 const std::optional<std::string>& target, std::optional<std::int64_t> ref,
                 const json& before, const json& after) {
    auto st = cached(std::string("INSERT INTO registry_journal(run_id, op, entity_id, target,"
                                       " ref, before_json, after_json, at) VALUES(?,?,?,?,?,?,?,") +
                           kNow + ")");
    if (!st) return st.error();
    Statement& s = **st;
    s.bind_optional(1, non_empty(run_id)).bind(2, op).bind(3, entity_id).bind_optional(4, target);
    if (ref) {
      s.bind(5, *ref);
    } else {
      s.bind_null(5);
    }
    s.bind(6, dump_json(before)).bind(7, dump_json(after));
    return s.run();
  }

  // Teaches `raw` as an alias of `e` unless its normalised name already resolves to `e`
  // (the entity's own, or one of its aliases): only names that add to resolution become
  // aliases. Other spellings of a known name are kept where they were seen (the mention,
  // and the ledger's verified facts and run_entities), not as aliases.
  Status add_alias(const EntityRow& e, const std::string& raw, const std::string& norm,
                   const std::string& method, const std::string& doc_id,
                   const std::string& run_id) {
    if (norm == e.norm_name) return ok();
    auto known = cached("SELECT 1 FROM entity_aliases WHERE norm = ? AND entity_id = ?");
    if (!known) return known.error();
    (*known)->bind(1, norm).bind(2, e.entity_id);
    auto has = (*known)->step();
    if (!has) return has.error();
    if (*has) return ok();
    auto st = cached(
        "INSERT INTO entity_aliases(entity_id, raw, norm, method, doc_id, run_id)"
        " VALUES(?,?,?,?,?,?) ON CONFLICT(entity_id, raw) DO NOTHING");
    if (!st) return st.error();
    (*st)->bind(1, e.entity_id).bind(2, raw).bind(3, norm).bind(4, method);
    (*st)->bind_optional(5, non_empty(doc_id)).bind_optional(6, non_empty(run_id));
    if (auto r = (*st)->run(); !r) return r;
    if (store.changes() == 0) return ok();
    (prefetch != nullptr ? prefetch->fresh_aliases : alias_names).insert(alias_hint(norm));
    std::int64_t alias_id = store.last_insert_rowid();
    return journal(run_id, "alias", e.entity_id, std::nullopt, alias_id, json::object(),
                   json{{"alias_id", alias_id}, {"raw", text_json(raw)}, {"method", method}});
  }

  Status add_mention(const EntityRow& e, const EntityInput& in) {
    if (in.doc_id.empty()) return ok();
    auto st = cached("INSERT OR IGNORE INTO entity_mentions(entity_id, doc_id, run_id)"
                           " VALUES(?,?,?)");
    if (!st) return st.error();
    (*st)->bind(1, e.entity_id).bind(2, in.doc_id).bind(3, in.run_id);
    return (*st)->run();
  }

  // A match fills the identifiers the entity lacks; an authoritative input also makes
  // the entity authoritative and, when the normalised names agree, gives its spelling.
  Status enrich(EntityRow& e, const Prepared& p) {
    EntityRow after = e;
    if (!e.cik && p.cik) after.cik = p.cik;
    if (!e.lei && p.lei) after.lei = p.lei;
    if (!e.cusip && p.cusip) after.cusip = p.cusip;
    if (!e.ticker && p.ticker) after.ticker = p.ticker;
    if (!e.jurisdiction && p.in->jurisdiction) after.jurisdiction = p.in->jurisdiction;
    if (p.in->authoritative && !e.authoritative) {
      after.authoritative = true;
      if (p.norm == e.norm_name) after.name = p.name;
    }
    if (after.name == e.name && after.cik == e.cik && after.ticker == e.ticker &&
        after.lei == e.lei && after.cusip == e.cusip && after.jurisdiction == e.jurisdiction &&
        after.authoritative == e.authoritative) {
      return ok();  // the common case, without building JSON images
    }
    json before_image = identity_image(e), after_image = identity_image(after);
    if (before_image == after_image) return ok();
    auto st = cached(
        "UPDATE entities SET name = ?, cik = ?, ticker = ?, lei = ?, jurisdiction = ?,"
        " authoritative = ?, cusip = ? WHERE rid = ?");
    if (!st) return st.error();
    (*st)->bind(1, after.name).bind_optional(2, after.cik).bind_optional(3, after.ticker);
    (*st)->bind_optional(4, after.lei).bind_optional(5, after.jurisdiction);
    (*st)->bind(6, std::int64_t{after.authoritative ? 1 : 0}).bind_optional(7, after.cusip);
    (*st)->bind(8, e.rid);
    if (auto r = (*st)->run(); !r) return r;
    e = std::move(after);
    return journal(p.in->run_id, "update", e.entity_id, std::nullopt, e.rid, before_image,
                   after_image);
  }

  Result<std::string> new_entity_id(const Prepared& p) {
    std::string base;
    if (p.cik) {
      base = "ent_" + sha256_fields({p.in->type, "cik", *p.cik}).substr(0, 16);
    } else if (p.lei) {
      base = "ent_" + sha256_fields({p.in->type, "lei", *p.lei}).substr(0, 16);
    } else {
      base = "ent_" + sha256_fields({p.in->type, "name", p.norm}).substr(0, 16);
    }
    std::string id = base;
    for (int n = 2;; ++n) {
      auto st = cached("SELECT 1 FROM entities WHERE entity_id = ?");
      if (!st) return st.error();
      (*st)->bind(1, id);
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) return id;
      id = base + "_" + std::to_string(n);
    }
  }

  Result<EntityRow> insert_entity(const Prepared& p, const std::optional<std::string>& dup_of) {
    auto id = new_entity_id(p);
    if (!id) return id.error();
    const EntityInput& in = *p.in;
    auto st = cached(
        "INSERT INTO entities(entity_id, type, name, norm_name, core_name, legal_form, cik,"
        " ticker, lei, jurisdiction, authoritative, possible_duplicate_of, created_run,"
        " created_doc, cusip) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    Statement& s = **st;
    s.bind(1, *id).bind(2, in.type).bind(3, p.name).bind(4, p.norm).bind(5, p.core);
    s.bind(6, p.legal).bind_optional(7, p.cik).bind_optional(8, p.ticker).bind_optional(9, p.lei);
    s.bind_optional(10, in.jurisdiction).bind(11, std::int64_t{in.authoritative ? 1 : 0});
    s.bind_optional(12, dup_of).bind_optional(13, non_empty(in.run_id));
    s.bind_optional(14, non_empty(in.doc_id)).bind_optional(15, p.cusip);
    if (auto r = s.run(); !r) return r.error();
    EntityRow e;
    e.rid = store.last_insert_rowid();
    e.entity_id = *id;
    e.type = in.type;
    e.name = p.name;
    e.norm_name = p.norm;
    e.core_name = p.core;
    e.legal_form = p.legal;
    e.cik = p.cik;
    e.ticker = p.ticker;
    e.lei = p.lei;
    e.cusip = p.cusip;
    e.jurisdiction = in.jurisdiction;
    e.authoritative = in.authoritative;
    e.possible_duplicate_of = dup_of;
    e.created_run = non_empty(in.run_id);
    e.created_doc = non_empty(in.doc_id);
    auto fts = cached("INSERT INTO entity_fts(rowid, core_name) VALUES(?, ?)");
    if (!fts) return fts.error();
    (*fts)->bind(1, e.rid).bind(2, p.core);
    if (auto r = (*fts)->run(); !r) return r.error();
    if (prefetch != nullptr) {  // the index is frozen while the prefetch thread runs
      index_changed = true;
      prefetch->fresh.add(e.rid, p.core);
      prefetch->fresh_rows.push_back({e.rid, p.core, name_hint(e.type, e.norm_name)});
      prefetch->fresh_names.insert(prefetch->fresh_rows.back().name);
    } else if (index_fresh) {  // otherwise the next sync reads the row
      index_changed = true;
      learn(e.rid, p.core, name_hint(e.type, e.norm_name));
    }
    if (auto j = journal(in.run_id, "insert", e.entity_id, dup_of, e.rid, json::object(),
                         entity_json(e));
        !j) {
      return j.error();
    }
    return e;
  }

  // Picks the match among same-type, non-conflicting candidates: one is a match; among
  // several, the only one without identifiers is; otherwise ambiguous (returns nullopt
  // and sets `ambiguous_with` to the oldest).
  static std::optional<EntityRow> choose(std::vector<EntityRow> cands, const Prepared& p,
                                         std::optional<std::string>& ambiguous_with) {
    std::erase_if(cands, [&](const EntityRow& e) { return e.type != p.in->type || conflicts(e, p); });
    if (cands.empty()) return std::nullopt;
    if (cands.size() == 1) return std::move(cands.front());
    std::vector<EntityRow> plain;
    for (const auto& e : cands) {
      if (!e.cik && !e.lei && !e.cusip) plain.push_back(e);
    }
    if (plain.size() == 1) return std::move(plain.front());
    std::sort(cands.begin(), cands.end(),
              [](const EntityRow& a, const EntityRow& b) { return a.rid < b.rid; });
    if (!ambiguous_with) ambiguous_with = cands.front().entity_id;
    return std::nullopt;
  }

  Result<Resolution> finish_match(EntityRow e, const Prepared& p, std::string method,
                                  double score) {
    if (auto s = enrich(e, p); !s) return s.error();
    if (auto s = add_alias(e, p.in->name, p.norm, method, p.in->doc_id, p.in->run_id); !s) {
      return s.error();
    }
    if (auto s = add_mention(e, *p.in); !s) return s.error();
    return Resolution{e.entity_id, std::move(method), score, false, std::nullopt};
  }

  Result<Resolution> resolve_one(const Prepared& p) {
    // 1. Authoritative identifiers.
    if (p.cik) {
      auto rows = by_identifier("cik", *p.cik);
      if (!rows) return rows.error();
      if (!rows->empty()) return finish_match(std::move(rows->front()), p, "cik", 1.0);
    }
    if (p.lei) {
      auto rows = by_identifier("lei", *p.lei);
      if (!rows) return rows.error();
      for (auto& e : *rows) {
        if (!conflicts(e, p)) return finish_match(std::move(e), p, "lei", 1.0);
      }
    }
    if (p.cusip) {
      auto rows = by_identifier("cusip", *p.cusip);
      if (!rows) return rows.error();
      for (auto& e : *rows) {
        if (e.type == p.in->type && !conflicts(e, p)) return finish_match(std::move(e), p, "cusip", 1.0);
      }
    }
    std::optional<std::string> ambiguous_with;
    if (auto s = sync_names(); !s) return s.error();
    // 2. Exact normalised name within the type.
    if (may_be_named(p.in->type, p.norm)) {
      auto rows = by_norm(p.in->type, p.norm);
      if (!rows) return rows.error();
      if (auto e = choose(std::move(*rows), p, ambiguous_with)) {
        return finish_match(std::move(*e), p, "exact", 1.0);
      }
    }
    // 3. Known aliases.
    if (!ambiguous_with && may_be_alias(p.norm)) {
      auto rows = by_alias(p.norm);
      if (!rows) return rows.error();
      if (auto e = choose(std::move(*rows), p, ambiguous_with)) {
        return finish_match(std::move(*e), p, "alias", 1.0);
      }
    }
    // 4. Fuzzy candidates.
    if (!ambiguous_with) {
      auto scored = fuzzy(p.core, fuzzy_floor(), 2, [&](const EntityRow& e) {
        return e.type == p.in->type && !conflicts(e, p);
      });
      if (!scored) return scored.error();
      if (!scored->empty()) {
        const Scored& best = scored->front();
        double runner_up = scored->size() > 1 ? (*scored)[1].score : 0.0;
        if (best.score >= options.fuzzy_accept &&
            best.score - runner_up >= options.fuzzy_margin - 1e-12 &&
            legal_compatible(best.entity.legal_form, p.legal) &&
            number_tokens(best.entity.core_name) == number_tokens(p.core) &&
            is_misspelling(best.entity.core_name, p.core)) {
          return finish_match(best.entity, p, "fuzzy", best.score);
        }
        if (best.score >= options.fuzzy_review) ambiguous_with = best.entity.entity_id;
      }
    }
    // 5. A new entity.
    auto e = insert_entity(p, ambiguous_with);
    if (!e) return e.error();
    if (auto s = add_mention(*e, *p.in); !s) return s.error();
    return Resolution{e->entity_id, ambiguous_with ? "new_possible_duplicate" : "new", 1.0, true,
                      ambiguous_with};
  }

  // ---- merges ------------------------------------------------------------------
  Result<std::optional<AliasRecord>> alias_by_id(std::int64_t alias_id) {
    auto st = cached("SELECT alias_id, raw, norm, method, doc_id, run_id FROM"
                           " entity_aliases WHERE alias_id = ?");
    if (!st) return st.error();
    (*st)->bind(1, alias_id);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) return std::optional<AliasRecord>();
    Statement& s = **st;
    return std::optional<AliasRecord>(AliasRecord{s.column_int(0), s.column_text(1),
                                                  s.column_text(2), s.column_text(3),
                                                  s.column_optional(4), s.column_optional(5)});
  }

  // Sets merged_into and the merge's state; shared by merge, unmerge and their undo.
  Status set_merge_state(const std::string& merged_id, const std::optional<std::string>& into,
                         std::int64_t merge_seq, bool active) {
    if (auto s = store.execute("UPDATE entities SET merged_into = ? WHERE entity_id = ?",
                               {into ? SqlValue(*into) : SqlValue(), merged_id});
        !s) {
      return s;
    }
    if (active) {
      return store.execute(
          "UPDATE entity_merges SET state = 'active', unmerged_at = NULL WHERE merge_seq = ?",
          {merge_seq});
    }
    return store.execute(std::string("UPDATE entity_merges SET state = 'undone', unmerged_at = ") +
                             kNow + " WHERE merge_seq = ?",
                         {merge_seq});
  }

  struct MergeRow {
    std::int64_t merge_seq = 0;
    std::string merge_id, survivor_id, merged_id, state;
    std::optional<std::int64_t> alias_id;
    std::optional<std::string> run_id;
  };

  Result<std::optional<MergeRow>> merge_row(const char* column, const SqlValue& key) {
    auto rows = store.query(std::string("SELECT merge_seq, merge_id, survivor_id, merged_id, state,"
                                        " alias_id, run_id FROM entity_merges WHERE ") +
                                column + " = ?",
                            {key});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<MergeRow>();
    const auto& r = rows->front();
    MergeRow m;
    m.merge_seq = std::get<std::int64_t>(r[0]);
    m.merge_id = std::get<std::string>(r[1]);
    m.survivor_id = std::get<std::string>(r[2]);
    m.merged_id = std::get<std::string>(r[3]);
    m.state = std::get<std::string>(r[4]);
    if (std::holds_alternative<std::int64_t>(r[5])) m.alias_id = std::get<std::int64_t>(r[5]);
    if (std::holds_alternative<std::string>(r[6])) m.run_id = std::get<std::string>(r[6]);
    return std::optional<MergeRow>(std::move(m));
  }

  Status insert_alias_image(const std::string& entity_id, const json& image) {
    return store.execute(
        "INSERT INTO entity_aliases(alias_id, entity_id, raw, norm, method, doc_id, run_id)"
        " VALUES(?,?,?,?,?,?,?)",
        {image.at("alias_id").get<std::int64_t>(), entity_id, text_from_json(image.at("raw")),
         text_from_json(image.at("norm")), image.at("method").get<std::string>(),
         image.at("doc_id").is_null() ? SqlValue() : SqlValue(text_from_json(image.at("doc_id"))),
         image.at("run_id").is_null() ? SqlValue()
                                      : SqlValue(text_from_json(image.at("run_id")))});
  }

  Status do_unmerge(const MergeRow& m, const std::optional<std::string>& run_id) {
    json alias_image = nullptr;
    if (m.alias_id) {
      auto a = alias_by_id(*m.alias_id);
      if (!a) return a.error();
      if (a->has_value()) {
        const AliasRecord& r = **a;
        alias_image = json{{"alias_id", r.alias_id},     {"raw", text_json(r.raw)},
                           {"norm", text_json(r.norm)},  {"method", r.method},
                           {"doc_id", opt_json(r.doc_id)}, {"run_id", opt_json(r.run_id)}};
        if (auto s = store.execute("DELETE FROM entity_aliases WHERE alias_id = ?", {*m.alias_id});
            !s) {
          return s;
        }
      }
    }
    if (auto s = set_merge_state(m.merged_id, std::nullopt, m.merge_seq, false); !s) return s;
    return journal(run_id.value_or(""), "unmerge", m.merged_id, m.survivor_id, m.merge_seq,
                   json{{"merged_into", m.survivor_id}, {"alias", alias_image}},
                   json{{"merged_into", nullptr}});
  }

  // ---- rollback ----------------------------------------------------------------
  struct JournalRow {
    std::int64_t seq = 0;
    std::string op, entity_id;
    std::optional<std::string> target;
    std::optional<std::int64_t> ref;
    std::string before_json, after_json;
  };

  // The live (not undone) journal entries matching `where`, newest first.
  Result<std::vector<JournalRow>> live_journal(const std::string& where,
                                               const std::vector<SqlValue>& params) {
    auto rows = store.query(
        "SELECT seq, op, entity_id, target, ref, before_json, after_json FROM registry_journal"
        " WHERE undone = 0 AND " + where + " ORDER BY seq DESC",
        params);
    if (!rows) return rows.error();
    std::vector<JournalRow> out;
    for (const auto& r : *rows) {
      JournalRow j;
      j.seq = std::get<std::int64_t>(r[0]);
      j.op = std::get<std::string>(r[1]);
      j.entity_id = std::get<std::string>(r[2]);
      if (auto t = std::get_if<std::string>(&r[3])) j.target = *t;
      if (auto ref = std::get_if<std::int64_t>(&r[4])) j.ref = *ref;
      j.before_json = std::get<std::string>(r[5]);
      j.after_json = std::get<std::string>(r[6]);
      out.push_back(std::move(j));
    }
    return out;
  }

  // Refuses when another run (or a manual merge) changed, since `since_seq`, an entity
  // this run inserted (anything at all, mentions included) or updated/merged (a later
  // update, merge or unmerge). Aliases others added to an entity this run only aliased
  // are independent and do not block, nor does a merge since unmerged: the merge and its
  // unmerge (both journalled with the merge's seq as ref) together changed nothing, as
  // the refusal's own advice ("unmerge first") promises.
  Status check_later_changes(const std::string& run_id, const std::string& entity_id,
                             std::int64_t since_seq, bool inserted) {
    auto blocked = [&](const std::string& by) {
      return make_error(ErrorCode::kInvalidInput,
                        "cannot roll back run " + run_id + ": entity " + entity_id +
                            " was changed since by " + by + "; roll that back or unmerge first");
    };
    const std::string ops = inserted ? "" : " AND op IN ('update', 'merge', 'unmerge')";
    for (const char* column : {"entity_id", "target"}) {
      auto rows = store.query(std::string("SELECT run_id, op FROM registry_journal WHERE ") +
                                  column +
                                  " = ? AND seq > ? AND undone = 0 AND (run_id IS NULL OR"
                                  " run_id <> ?)" + ops +
                                  " AND NOT (op IN ('merge', 'unmerge') AND ref IN (SELECT"
                                  " merge_seq FROM entity_merges WHERE state = 'undone'))"
                                  " ORDER BY seq LIMIT 1",
                              {entity_id, since_seq, run_id});
      if (!rows) return rows.error();
      if (!rows->empty()) {
        const auto& r = rows->front();
        std::string by = std::holds_alternative<std::string>(r[0])
                             ? "run " + std::get<std::string>(r[0])
                             : std::string("a manual merge");
        return blocked(by + " (" + std::get<std::string>(r[1]) + ")");
      }
    }
    if (inserted) {
      auto rows = store.query(
          "SELECT run_id FROM entity_mentions WHERE entity_id = ? AND run_id <> ? LIMIT 1",
          {entity_id, run_id});
      if (!rows) return rows.error();
      if (!rows->empty()) return blocked("run " + std::get<std::string>(rows->front()[0]) + " (mention)");
    }
    return ok();
  }

  Status undo(const JournalRow& j) {
    json before = json::parse(j.before_json, nullptr, false);
    if (j.op == "insert") {
      if (auto s = store.execute("DELETE FROM entities WHERE rid = ?", {*j.ref}); !s) return s;
      return store.execute("DELETE FROM entity_fts WHERE rowid = ?", {*j.ref});
    }
    if (j.op == "alias") {
      return store.execute("DELETE FROM entity_aliases WHERE alias_id = ?", {*j.ref});
    }
    if (j.op == "update") {
      // Restores only the fields this entry changed, so later changes to others stay.
      json after = json::parse(j.after_json, nullptr, false);
      std::string sql = "UPDATE entities SET ";
      std::vector<SqlValue> params;
      for (const char* k : {"name", "cik", "ticker", "lei", "cusip", "jurisdiction", "authoritative"}) {
        // Images written before a field existed (cusip, migration 0117) do not hold it.
        if (!before.contains(k) || !after.contains(k) || before.at(k) == after.at(k)) continue;
        if (!params.empty()) sql += ", ";
        sql += std::string(k) + " = ?";
        const json& v = before.at(k);
        if (v.is_boolean()) {
          params.emplace_back(std::int64_t{v.get<bool>() ? 1 : 0});
        } else if (v.is_null()) {
          params.emplace_back(std::monostate{});
        } else {
          params.emplace_back(text_from_json(v));
        }
      }
      if (params.empty()) return ok();
      sql += " WHERE entity_id = ?";
      params.emplace_back(j.entity_id);
      return store.execute(sql, params);
    }
    if (j.op == "merge") {
      json after = json::parse(j.after_json, nullptr, false);
      if (!after.at("alias_id").is_null()) {
        if (auto s = store.execute("DELETE FROM entity_aliases WHERE alias_id = ?",
                                   {after.at("alias_id").get<std::int64_t>()});
            !s) {
          return s;
        }
      }
      return set_merge_state(j.entity_id, std::nullopt, *j.ref, false);
    }
    if (j.op == "unmerge") {
      if (!before.at("alias").is_null()) {
        if (auto s = insert_alias_image(*j.target, before.at("alias")); !s) return s;
      }
      return set_merge_state(j.entity_id, j.target, *j.ref, true);
    }
    return make_error(ErrorCode::kInternal, "unknown journal op " + j.op);
  }
};

// ---------------------------------------------------------------------------------

std::optional<EntityInput> filer_input(std::string doc_id,
                                       const std::optional<std::string>& company,
                                       const std::optional<std::string>& cik, std::string run_id) {
  if (!company || trim(*company).empty()) return std::nullopt;
  EntityInput in;
  in.type = "COMPANY";
  in.name = *company;
  in.cik = cik;
  in.doc_id = std::move(doc_id);
  in.run_id = std::move(run_id);
  in.authoritative = true;
  return in;
}

EntityRegistry::EntityRegistry(Store& store, RegistryOptions options, Clock* clock)
    : impl_(std::make_unique<Impl>(store, std::move(options), clock)) {}
EntityRegistry::~EntityRegistry() = default;

Result<Resolution> EntityRegistry::resolve(const EntityInput& input) {
  auto all = resolve_all({input});
  if (!all) return all.error();
  return std::move(all->front());
}

Result<std::vector<Resolution>> EntityRegistry::resolve_all(
    const std::vector<EntityInput>& inputs,
    const std::function<Status(const std::vector<Resolution>&)>& also) {
  std::vector<Prepared> prepared;
  prepared.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto p = prepare_input(inputs[i]);
    if (!p) {
      Error e = p.error();
      e.message = "entity " + std::to_string(i) + ": " + e.message;
      return e;
    }
    prepared.push_back(std::move(*p));
  }
  std::vector<Resolution> out;
  Impl& m = *impl_;
  const std::size_t min_inputs = m.options.prefetch_min_inputs;
  Status s = m.write([&]() -> Status {
    out.clear();
    out.reserve(prepared.size());
    std::optional<FuzzyPrefetch> prefetch;
    if (min_inputs > 0 && prepared.size() >= min_inputs) {
      if (auto synced = m.sync_names(); !synced) return synced;
      prefetch.emplace(prepared, m.index, m.entity_names, m.alias_names, m.fuzzy_floor(),
                       m.options.max_fuzzy_trigrams);
      m.prefetch = &*prefetch;
    }
    // Whatever happens below, the thread stops and the group's entities join the index.
    struct Done {
      Impl& m;
      std::optional<FuzzyPrefetch>& prefetch;
      ~Done() {
        if (!prefetch) return;
        prefetch->stop();
        m.prefetch = nullptr;
        for (const auto& row : prefetch->fresh_rows) m.learn(row.rid, row.core, row.name);
        m.alias_names.merge(prefetch->fresh_aliases);
      }
    } done{m, prefetch};
    for (std::size_t i = 0; i < prepared.size(); ++i) {
      if (prefetch) prefetch->at(i);
      m.input_at = i;
      auto r = m.resolve_one(prepared[i]);
      if (!r) {
        Error e = r.error();
        e.message = "entity " + std::to_string(i) + ": " + e.message;
        return e;
      }
      out.push_back(std::move(*r));
    }
    return also ? also(out) : ok();
  });
  if (!s) return s.error();
  return out;
}

Result<std::vector<Candidate>> EntityRegistry::find(std::string_view text,
                                                    const std::optional<std::string>& type,
                                                    std::size_t limit) {
  std::string t = trim(text);
  if (t.empty()) return make_error(ErrorCode::kInvalidInput, "find needs a non-empty text");
  std::map<std::string, Candidate> best;  // by entity id
  auto offer = [&](const EntityRow& e, const char* method, double score,
                   const std::string& matched) {
    if (type && e.type != *type) return;
    auto it = best.find(e.entity_id);
    if (it != best.end() && it->second.score >= score) return;
    best[e.entity_id] = Candidate{e.entity_id, e.type, e.name, method, score, matched};
  };
  auto offer_all = [&](Result<std::vector<EntityRow>> rows, const char* method,
                       const std::string& matched) -> Status {
    if (!rows) return rows.error();
    for (const auto& e : *rows) offer(e, method, 1.0, matched);
    return ok();
  };
  if (auto cik = normalize_cik(t)) {
    if (auto s = offer_all(impl_->by_identifier("cik", *cik), "cik", *cik); !s) return s.error();
  }
  if (auto lei = normalize_lei(t)) {
    if (auto s = offer_all(impl_->by_identifier("lei", *lei), "lei", *lei); !s) return s.error();
  }
  if (auto cusip = normalize_cusip(t)) {
    const std::string issuer = cusip->substr(0, 6);
    if (auto s = offer_all(impl_->by_identifier("cusip", issuer), "cusip", issuer); !s) {
      return s.error();
    }
  }
  if (t.size() <= 12 && t.find(' ') == std::string::npos) {
    std::string ticker = upper_ascii(t);
    if (auto s = offer_all(impl_->by_identifier("ticker", ticker), "ticker", ticker); !s) {
      return s.error();
    }
  }
  std::string norm = normalize_name(t);
  if (!norm.empty()) {
    if (auto s = offer_all(impl_->by_norm_any_type(norm), "exact", t); !s) return s.error();
    if (auto s = offer_all(impl_->by_alias(norm), "alias", t); !s) return s.error();
    std::string core = core_name(norm);
    auto keys = internal::trigram_keys(core);
    // Very long texts skip substring and fuzzy matching (max_fuzzy_trigrams); exact
    // covers those.
    bool short_enough =
        internal::decode_utf8(core).size() <= impl_->options.max_fuzzy_trigrams + 2;
    if (!keys.empty() && short_enough) {
      // Names that contain the text (what an FTS5 trigram phrase finds), from the
      // in-memory index: a phrase query reads every trigram's doclist, milliseconds
      // for common trigrams in a large registry.
      impl_->index_fresh = false;  // find runs outside a transaction: sync every time
      if (auto s = impl_->sync_index(); !s) return s.error();
      std::vector<std::pair<std::int64_t, double>> hits;
      auto& index = impl_->index;
      for (const auto& h : index.containing(core, keys, kFindSubstringRows, impl_->scratch)) {
        hits.emplace_back(h.rid, h.score);
      }
      std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      if (hits.size() > limit * 4) hits.resize(limit * 4);
      for (const auto& [rid, score] : hits) {
        auto row = impl_->load_rid(rid);
        if (!row) return row.error();
        if (!row->has_value()) continue;
        auto s = impl_->survivor(std::move(**row));
        if (!s) return s.error();
        offer(*s, "substring", score, t);
      }
      auto fuzzy = impl_->fuzzy(core, impl_->fuzzy_floor(), limit, [&](const EntityRow& e) {
        return !type || e.type == *type;
      });
      if (!fuzzy) return fuzzy.error();
      for (const auto& f : *fuzzy) offer(f.entity, "fuzzy", f.score, t);
    }
  }
  std::vector<Candidate> out;
  for (auto& [id, c] : best) out.push_back(std::move(c));
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.entity_id < b.entity_id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<EntityDetails> EntityRegistry::identity(std::string_view entity_id) {
  auto e = impl_->load(entity_id);
  if (!e) return e.error();
  if (!e->has_value()) {
    return make_error(ErrorCode::kNotFound, "no entity " + std::string(entity_id));
  }
  const EntityRow& r = **e;
  EntityDetails d;
  d.entity_id = r.entity_id;
  d.type = r.type;
  d.name = r.name;
  d.norm_name = r.norm_name;
  d.cik = r.cik;
  d.ticker = r.ticker;
  d.lei = r.lei;
  d.cusip = r.cusip;
  d.jurisdiction = r.jurisdiction;
  d.authoritative = r.authoritative;
  d.possible_duplicate_of = r.possible_duplicate_of;
  d.merged_into = r.merged_into;
  return d;
}

Result<EntityDetails> EntityRegistry::show(std::string_view entity_id) {
  auto base = identity(entity_id);
  if (!base) return base.error();
  EntityDetails d = std::move(*base);
  Store& store = impl_->store;
  {
    auto st = store.prepare("SELECT alias_id, raw, norm, method, doc_id, run_id FROM"
                            " entity_aliases WHERE entity_id = ? ORDER BY alias_id");
    if (!st) return st.error();
    st->bind(1, entity_id);
    while (true) {
      auto more = st->step();
      if (!more) return more.error();
      if (!*more) break;
      d.aliases.push_back(AliasRecord{st->column_int(0), st->column_text(1), st->column_text(2),
                                      st->column_text(3), st->column_optional(4),
                                      st->column_optional(5)});
    }
  }
  {
    auto st = store.prepare("SELECT doc_id, run_id FROM entity_mentions WHERE entity_id = ?"
                            " ORDER BY doc_id, run_id");
    if (!st) return st.error();
    st->bind(1, entity_id);
    while (true) {
      auto more = st->step();
      if (!more) return more.error();
      if (!*more) break;
      d.mentions.push_back(Mention{st->column_text(0), st->column_text(1)});
    }
  }
  {
    auto st = store.prepare("SELECT merge_id, survivor_id, merged_id, run_id, state, merged_at,"
                            " unmerged_at FROM entity_merges WHERE survivor_id = ?1 OR"
                            " merged_id = ?1 ORDER BY merge_seq");
    if (!st) return st.error();
    st->bind(1, entity_id);
    while (true) {
      auto more = st->step();
      if (!more) return more.error();
      if (!*more) break;
      d.merges.push_back(MergeRecord{st->column_text(0), st->column_text(1), st->column_text(2),
                                     st->column_optional(3), st->column_text(4),
                                     st->column_text(5), st->column_optional(6)});
    }
  }
  return d;
}

Result<MergeRecord> EntityRegistry::merge(std::string_view a, std::string_view b,
                                          const std::optional<std::string>& run_id) {
  MergeRecord record;
  Status s = impl_->write([&]() -> Status {
    auto ea = impl_->load(a);
    if (!ea) return ea.error();
    auto eb = impl_->load(b);
    if (!eb) return eb.error();
    if (!ea->has_value()) return make_error(ErrorCode::kNotFound, "no entity " + std::string(a));
    if (!eb->has_value()) return make_error(ErrorCode::kNotFound, "no entity " + std::string(b));
    const EntityRow& A = **ea;
    const EntityRow& B = **eb;
    if (A.entity_id == B.entity_id) {
      return make_error(ErrorCode::kInvalidInput, "cannot merge an entity into itself");
    }
    if (A.merged_into || B.merged_into) {
      return make_error(ErrorCode::kInvalidInput,
                        (A.merged_into ? A.entity_id : B.entity_id) + " is merged into " +
                            *(A.merged_into ? A.merged_into : B.merged_into) +
                            " already; merge into the survivor or unmerge first");
    }
    if (A.type != B.type) {
      return make_error(ErrorCode::kInvalidInput,
                        "cannot merge a " + B.type + " into a " + A.type);
    }
    Store& store = impl_->store;
    auto next = store.query("SELECT coalesce(max(merge_seq), 0) + 1 FROM entity_merges");
    if (!next) return next.error();
    std::int64_t seq = std::get<std::int64_t>((*next)[0][0]);
    std::optional<std::int64_t> alias_id;
    auto ins = impl_->cached(
        "INSERT INTO entity_aliases(entity_id, raw, norm, method, doc_id, run_id)"
        " VALUES(?,?,?,'merge',NULL,?) ON CONFLICT(entity_id, raw) DO NOTHING");
    if (!ins) return ins.error();
    (*ins)->bind(1, A.entity_id).bind(2, B.name).bind(3, B.norm_name).bind_optional(4, run_id);
    if (auto r = (*ins)->run(); !r) return r;
    if (store.changes() > 0) alias_id = store.last_insert_rowid();
    record.merge_id = "mrg_" + std::to_string(seq);
    record.survivor_id = A.entity_id;
    record.merged_id = B.entity_id;
    record.run_id = run_id;
    record.state = "active";
    if (auto r = store.execute(
            std::string("INSERT INTO entity_merges(merge_seq, merge_id, survivor_id, merged_id,"
                        " alias_id, run_id, merged_at) VALUES(?,?,?,?,?,?,") +
                kNow + ")",
            {seq, record.merge_id, A.entity_id, B.entity_id,
             alias_id ? SqlValue(*alias_id) : SqlValue(),
             run_id ? SqlValue(*run_id) : SqlValue()});
        !r) {
      return r;
    }
    if (auto r = store.execute("UPDATE entities SET merged_into = ? WHERE entity_id = ?",
                               {A.entity_id, B.entity_id});
        !r) {
      return r;
    }
    auto at = store.query("SELECT merged_at FROM entity_merges WHERE merge_seq = ?", {seq});
    if (!at) return at.error();
    record.merged_at = std::get<std::string>((*at)[0][0]);
    return impl_->journal(run_id.value_or(""), "merge", B.entity_id, A.entity_id, seq,
                          json{{"merged_into", nullptr}},
                          json{{"merged_into", A.entity_id},
                               {"merge_id", record.merge_id},
                               {"alias_id", alias_id ? json(*alias_id) : json(nullptr)}});
  });
  if (!s) return s.error();
  return record;
}

Status EntityRegistry::unmerge(std::string_view merge_id) {
  return impl_->write([&]() -> Status {
    auto m = impl_->merge_row("merge_id", std::string(merge_id));
    if (!m) return m.error();
    if (!m->has_value()) {
      return make_error(ErrorCode::kNotFound, "no merge " + std::string(merge_id));
    }
    const auto& row = **m;
    if (row.state != "active") {
      return make_error(ErrorCode::kInvalidInput, "merge " + row.merge_id + " is already undone");
    }
    return impl_->do_unmerge(row, std::nullopt);
  });
}

Result<std::vector<JournalEntry>> EntityRegistry::history(std::string_view entity_id) {
  auto e = impl_->load(entity_id);
  if (!e) return e.error();
  if (!e->has_value()) {
    return make_error(ErrorCode::kNotFound, "no entity " + std::string(entity_id));
  }
  auto st = impl_->store.prepare(
      "SELECT seq, run_id, op, entity_id, target, before_json, after_json, at, undone FROM"
      " registry_journal WHERE entity_id = ?1 OR target = ?1 ORDER BY seq");
  if (!st) return st.error();
  st->bind(1, entity_id);
  std::vector<JournalEntry> out;
  while (true) {
    auto more = st->step();
    if (!more) return more.error();
    if (!*more) break;
    out.push_back(JournalEntry{st->column_int(0), st->column_optional(1), st->column_text(2),
                               st->column_text(3), st->column_optional(4), st->column_text(5),
                               st->column_text(6), st->column_text(7), st->column_int(8) != 0});
  }
  return out;
}

Status EntityRegistry::rollback_run(std::string_view run_id_view) {
  const std::string run_id(run_id_view);
  if (run_id.empty()) return make_error(ErrorCode::kInvalidInput, "rollback needs a run id");
  return impl_->write([&]() -> Status {
    Store& store = impl_->store;
    auto live = impl_->live_journal("run_id = ?", {run_id});
    if (!live) return live.error();
    const std::vector<Impl::JournalRow>& entries = *live;
    auto mentions = store.query("SELECT count(*) FROM entity_mentions WHERE run_id = ?", {run_id});
    if (!mentions) return mentions.error();
    std::int64_t n_mentions = std::get<std::int64_t>((*mentions)[0][0]);
    if (entries.empty() && n_mentions == 0) {
      return make_error(ErrorCode::kNotFound, "the registry holds nothing of run " + run_id);
    }
    // The earliest entry of this run per entity; later changes by others block the undo.
    std::map<std::string, std::pair<std::int64_t, bool>> touched;  // id -> (seq, inserted)
    for (const auto& j : entries) {
      if (j.op == "alias") continue;
      auto& slot = touched.try_emplace(j.entity_id, j.seq, false).first->second;
      slot.first = std::min(slot.first, j.seq);
      if (j.op == "insert") slot.second = true;
    }
    // An entity this run created that another live run still uses (a mention, an alias,
    // an update) is not deleted: its creation passes to the earliest such run, which then
    // owns it (and removes it if that run is rolled back in turn).
    std::map<std::int64_t, std::string> heirs;  // insert seq -> the run that inherits it
    for (const auto& [id, info] : touched) {
      if (info.second) {
        auto heir = store.query(
            "SELECT run_id FROM entity_mentions WHERE entity_id = ?1 AND run_id <> ?2"
            " UNION SELECT run_id FROM registry_journal WHERE (entity_id = ?1 OR target = ?1)"
            " AND run_id IS NOT NULL AND run_id <> ?2 AND undone = 0 ORDER BY 1 LIMIT 1",
            {id, run_id});
        if (!heir) return heir.error();
        if (!heir->empty()) {
          heirs[info.first] = std::get<std::string>((*heir)[0][0]);
          continue;
        }
      }
      if (auto s = impl_->check_later_changes(run_id, id, info.first, info.second); !s) return s;
    }
    for (const auto& j : entries) {
      if (j.op == "insert") {
        if (auto h = heirs.find(j.seq); h != heirs.end()) {
          if (auto s = store.execute("UPDATE registry_journal SET run_id = ? WHERE seq = ?",
                                     {h->second, j.seq});
              !s) {
            return s;
          }
          continue;
        }
      }
      if (auto s = impl_->undo(j); !s) return s;
    }
    if (auto s = store.execute("DELETE FROM entity_mentions WHERE run_id = ?", {run_id}); !s) {
      return s;
    }
    if (auto s = store.execute(
            "UPDATE registry_journal SET undone = 1 WHERE run_id = ? AND undone = 0", {run_id});
        !s) {
      return s;
    }
    return store.execute(std::string("INSERT INTO registry_rollbacks(run_id, entries, mentions,"
                                     " rolled_back_at) VALUES(?,?,?,") +
                             kNow + ")",
                         {run_id, static_cast<std::int64_t>(entries.size()), n_mentions});
  });
}

Status EntityRegistry::rollback_document(std::string_view run_id_view,
                                         std::string_view doc_id_view) {
  const std::string run_id(run_id_view), doc_id(doc_id_view);
  if (run_id.empty() || doc_id.empty()) {
    return make_error(ErrorCode::kInvalidInput, "document rollback needs a run id and a doc id");
  }
  return impl_->write([&]() -> Status {
    Store& store = impl_->store;
    auto held = store.query(
        "SELECT (SELECT count(*) FROM entity_mentions WHERE run_id = ?1 AND doc_id = ?2),"
        " (SELECT count(*) FROM entity_aliases WHERE run_id = ?1 AND doc_id = ?2),"
        " (SELECT count(*) FROM entities WHERE created_run = ?1 AND created_doc = ?2)",
        {run_id, doc_id});
    if (!held) return held.error();
    const auto& counts = (*held)[0];
    if (std::get<std::int64_t>(counts[0]) + std::get<std::int64_t>(counts[1]) +
            std::get<std::int64_t>(counts[2]) ==
        0) {
      return make_error(ErrorCode::kNotFound,
                        "the registry holds nothing of document " + doc_id + " in run " + run_id);
    }
    if (auto s = store.execute("DELETE FROM entity_mentions WHERE run_id = ? AND doc_id = ?",
                               {run_id, doc_id});
        !s) {
      return s;
    }
    auto undo_entries = [&](const std::string& where, const std::vector<SqlValue>& params) -> Status {
      auto live = impl_->live_journal(where, params);
      if (!live) return live.error();
      for (const auto& j : *live) {
        if (auto s = impl_->undo(j); !s) return s;
        if (auto s = store.execute("UPDATE registry_journal SET undone = 1 WHERE seq = ?", {j.seq});
            !s) {
          return s;
        }
      }
      return ok();
    };
    // Entities the document created in this run that nothing else refers to any more: no
    // mention (any document, any run) and no live journal entry but this run's own on it.
    // Removing one may free another (a possible duplicate of it), hence the rounds.
    while (true) {
      auto created = store.query(
          "SELECT e.entity_id FROM registry_journal j JOIN entities e ON e.rid = j.ref"
          " WHERE j.op = 'insert' AND j.run_id = ?1 AND j.undone = 0 AND e.created_doc = ?2"
          " AND NOT EXISTS (SELECT 1 FROM entity_mentions m WHERE m.entity_id = e.entity_id)"
          " AND NOT EXISTS (SELECT 1 FROM registry_journal o WHERE o.undone = 0"
          "   AND (o.entity_id = e.entity_id OR o.target = e.entity_id)"
          "   AND NOT (o.run_id IS ?1 AND o.entity_id = e.entity_id))",
          {run_id, doc_id});
      if (!created) return created.error();
      if (created->empty()) break;
      for (const auto& row : *created) {
        if (auto s = undo_entries("run_id = ? AND entity_id = ?", {run_id, row[0]}); !s) return s;
      }
    }
    // Aliases the document taught in this run, unless a remaining mention's document
    // contains the alias verbatim (that document would have taught it too).
    return undo_entries(
        "op = 'alias' AND run_id = ?1 AND ref IN (SELECT a.alias_id FROM entity_aliases a"
        " WHERE a.run_id = ?1 AND a.doc_id = ?2 AND NOT EXISTS (SELECT 1 FROM entity_mentions m"
        " JOIN documents d ON d.doc_id = m.doc_id WHERE m.entity_id = a.entity_id"
        " AND instr(d.text, a.raw) > 0))",
        {run_id, doc_id});
  });
}

Result<std::int64_t> EntityRegistry::journal_count(std::string_view run_id) {
  auto rows = impl_->store.query(
      "SELECT count(*) FROM registry_journal WHERE run_id = ? AND undone = 0",
      {std::string(run_id)});
  if (!rows) return rows.error();
  return std::get<std::int64_t>((*rows)[0][0]);
}

Result<std::string> EntityRegistry::dump() {
  static const std::vector<std::pair<std::string, std::string>> kSections = {
      {"entity", std::string("SELECT ") + kEntityColumns + " FROM entities ORDER BY rid"},
      {"alias", "SELECT alias_id, entity_id, raw, norm, method, doc_id, run_id FROM"
                " entity_aliases ORDER BY alias_id"},
      {"mention", "SELECT entity_id, doc_id, run_id FROM entity_mentions"
                  " ORDER BY entity_id, doc_id, run_id"},
      {"merge", "SELECT merge_seq, merge_id, survivor_id, merged_id, alias_id, run_id, merged_at"
                " FROM entity_merges WHERE state = 'active' ORDER BY merge_seq"},
      {"fts", "SELECT rowid, core_name FROM entity_fts ORDER BY rowid"},
  };
  std::string out;
  for (const auto& [tag, sql] : kSections) {
    auto st = impl_->store.prepare(sql);
    if (!st) return st.error();
    while (true) {
      auto more = st->step();
      if (!more) return more.error();
      if (!*more) break;
      json row = json::array();
      for (int c = 0; c < st->column_count(); ++c) {
        SqlValue v = st->column_value(c);
        if (std::holds_alternative<std::monostate>(v)) {
          row.push_back(nullptr);
        } else if (std::holds_alternative<std::int64_t>(v)) {
          row.push_back(std::get<std::int64_t>(v));
        } else if (std::holds_alternative<double>(v)) {
          row.push_back(std::get<double>(v));
        } else {
          row.push_back(text_json(std::get<std::string>(v)));
        }
      }
      out += tag;
      out += ' ';
      out += dump_json(row);
      out += '\n';
    }
  }
  return out;
}

}  // namespace fgraph::registry
