// The verifier: schema, references, evidence and leaks, in that order, per model output.
#include <algorithm>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "verify/internal/schema_validator.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> optional_string(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string string_field(const json& object, const char* key) {
  return optional_string(object, key).value_or("");
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

Result<std::vector<std::string>> read_enum(const json& schema, const char* pointer) {
  json::json_pointer p(pointer);
  if (!schema.contains(p) || !schema.at(p).is_array() || schema.at(p).empty()) {
    return make_error(ErrorCode::kInvalidInput,
                      std::string("schema has no type enumeration at ") + pointer);
  }
  std::vector<std::string> values;
  for (const auto& v : schema.at(p)) {
    if (!v.is_string()) {
      return make_error(ErrorCode::kInvalidInput,
                        std::string("schema enumeration holds a non-string at ") + pointer);
    }
    values.push_back(v.get<std::string>());
  }
  return values;
}

std::string cik_digits(const std::string& cik) {
  std::string digits;
  for (char c : cik) {
    if (c >= '0' && c <= '9' && !(digits.empty() && c == '0')) digits.push_back(c);
  }
  return digits;
}

// The outcome of the evidence checks for one fact.
struct Evidence {
  std::optional<CharSpan> span;  // set when accepted
  DropReason reason = DropReason::kEvidenceNotFound;
  std::string detail;
  std::string normalized;  // the normalised quote (for the name checks)
};

}  // namespace

struct Verifier::Impl {
  std::shared_ptr<const internal::SchemaValidator> schema;
  std::vector<std::string> entity_types;
  std::vector<std::string> relation_types;
  std::string schema_sha256;
  Options options;

  bool type_allowed(const std::string& type, const std::vector<std::string>& enumeration) const {
    return contains(enumeration, type) && !contains(options.refused_types, type);
  }

  Evidence check_evidence(const PreparedDocument& doc, const std::string& quote,
                          const LeakIndex* run, FactKind kind, int index,
                          RowVerdict& verdict) const {
    Evidence e;
    e.normalized = normalize(quote);
    if (e.normalized.empty()) {
      e.reason = DropReason::kEvidenceMissing;
      e.detail = "evidence is empty";
      return e;
    }
    std::size_t chars = count_code_points(e.normalized);
    if (chars < options.min_quote_chars) {
      e.reason = DropReason::kEvidenceTooShort;
      e.detail = "evidence has " + std::to_string(chars) + " characters, minimum " +
                 std::to_string(options.min_quote_chars);
      return e;
    }
    e.span = doc.find_normalized(e.normalized);
    if (e.span) return e;
    if (run != nullptr) {
      if (auto other = run->find_elsewhere(e.normalized, doc.doc_id)) {
        e.reason = DropReason::kCrossDocumentLeak;
        e.detail = "quote absent from its own document but found in " + *other;
        verdict.leaks.push_back(Leak{kind, index, quote, doc.doc_id, *other});
        return e;
      }
    }
    e.reason = DropReason::kEvidenceNotFound;
    e.detail = "quote not found in the document";
    return e;
  }

  bool is_subject(const PreparedDocument& doc, const std::string& name,
                  const std::optional<std::string>& cik) const {
    if (cik) {
      std::string digits = cik_digits(*cik);
      if (!digits.empty() && contains(doc.subject_ciks, digits)) return true;
    }
    std::string key = subject_key(name);
    return !key.empty() && contains(doc.subject_keys, key);
  }
};

Verifier::Verifier() : impl_(std::make_unique<Impl>()) {}
Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

Result<Verifier> Verifier::create(std::string_view schema_text, Options options) {
  auto compiled = internal::SchemaValidator::compile(schema_text);
  if (!compiled) return compiled.error();
  json schema = json::parse(schema_text, nullptr, false);
  auto entity_types = read_enum(schema, "/properties/entities/items/properties/type/enum");
  if (!entity_types) return entity_types.error();
  auto relation_types = read_enum(schema, "/properties/relations/items/properties/type/enum");
  if (!relation_types) return relation_types.error();
  Verifier v;
  v.impl_->schema = std::move(*compiled);
  v.impl_->entity_types = std::move(*entity_types);
  v.impl_->relation_types = std::move(*relation_types);
  v.impl_->schema_sha256 = sha256_hex(schema_text);
  v.impl_->options = std::move(options);
  return v;
}

const std::vector<std::string>& Verifier::entity_types() const { return impl_->entity_types; }
const std::vector<std::string>& Verifier::relation_types() const {
  return impl_->relation_types;
}
const std::string& Verifier::schema_sha256() const { return impl_->schema_sha256; }
const Options& Verifier::options() const { return impl_->options; }

RowVerdict Verifier::verify(const PreparedDocument& doc, std::string_view output_json,
                            const LeakIndex* run) const {
  RowVerdict v;
  v.doc_id = doc.doc_id;
  auto fail_row = [&v, output_json](std::string pointer, std::string description) {
    v.schema_ok = false;
    v.pointer = std::move(pointer);
    v.schema_error = description;
    v.dropped.push_back(DroppedFact{FactKind::kOutput, -1, "", DropReason::kSchemaInvalid,
                                    std::move(description), std::string(output_json)});
    return v;
  };
  json output = json::parse(output_json, nullptr, false);
  if (output.is_discarded()) return fail_row("", "output is not valid JSON");
  internal::SchemaCheck check = impl_->schema->validate(output);
  if (!check.ok) return fail_row(check.pointer, check.description);
  v.schema_ok = true;

  const json& entities = output.at("entities");
  const json& relations = output.at("relations");

  std::unordered_map<std::string, int> id_count;
  for (const auto& e : entities) ++id_count[string_field(e, "id")];

  // id -> position in v.entities (accepted) or the reason it was dropped.
  std::unordered_map<std::string, std::size_t> accepted;
  std::unordered_map<std::string, DropReason> rejected;

  for (std::size_t i = 0; i < entities.size(); ++i) {
    const json& e = entities[i];
    const int index = static_cast<int>(i);
    const std::string id = string_field(e, "id");
    const std::string name = string_field(e, "name");
    const std::string type = string_field(e, "type");
    const std::string evidence = string_field(e, "evidence");
    auto drop = [&](DropReason reason, std::string detail) {
      v.dropped.push_back(
          DroppedFact{FactKind::kEntity, index, id, reason, std::move(detail), dump(e)});
      if (!accepted.count(id)) rejected.emplace(id, reason);
    };
    if (id == kFilerRef) {
      drop(DropReason::kUnknownEntityRef,
           "entity id \"" + id + "\" is reserved for the document's filer");
      continue;
    }
    if (id_count[id] > 1) {
      drop(DropReason::kUnknownEntityRef,
           "entity id \"" + id + "\" is defined " + std::to_string(id_count[id]) + " times");
      continue;
    }
    if (!impl_->type_allowed(type, impl_->entity_types)) {
      drop(DropReason::kDisallowedType, "entity type \"" + type + "\" is not allowed");
      continue;
    }
    Evidence ev = impl_->check_evidence(doc, evidence, run, FactKind::kEntity, index, v);
    if (!ev.span) {
      drop(ev.reason, ev.detail);
      continue;
    }
    std::string n = normalize(name);
    if (n.empty() || ev.normalized.find(n) == std::string::npos) {
      drop(DropReason::kNameNotInEvidence, "evidence does not contain the name \"" + name + "\"");
      continue;
    }
    VerifiedEntity ve;
    ve.index = index;
    ve.local_id = id;
    ve.name = name;
    ve.type = type;
    ve.cik = optional_string(e, "cik");
    ve.ticker = optional_string(e, "ticker");
    ve.lei = optional_string(e, "lei");
    ve.jurisdiction = optional_string(e, "jurisdiction");
    ve.evidence = evidence;
    ve.char_start = ev.span->char_start;
    ve.char_end = ev.span->char_end;
    ve.is_subject = impl_->is_subject(doc, name, ve.cik);
    accepted.emplace(id, v.entities.size());
    v.entities.push_back(std::move(ve));
  }

  for (std::size_t i = 0; i < relations.size(); ++i) {
    const json& r = relations[i];
    const int index = static_cast<int>(i);
    const std::string source = string_field(r, "source");
    const std::string target = string_field(r, "target");
    const std::string type = string_field(r, "type");
    const std::string evidence = string_field(r, "evidence");
    auto drop = [&](DropReason reason, std::string detail) {
      v.dropped.push_back(
          DroppedFact{FactKind::kRelation, index, "", reason, std::move(detail), dump(r)});
    };
    auto unresolved = [&](const std::string& role, const std::string& id) -> std::string {
      if (accepted.count(id)) return "";
      if (id == kFilerRef) {
        return doc.filer ? "" : role + " \"" + id + "\": the document's metadata names no filer";
      }
      auto it = rejected.find(id);
      if (it != rejected.end()) {
        return role + " \"" + id + "\" was dropped (" + std::string(to_string(it->second)) +
               ")";
      }
      return role + " \"" + id + "\" is not an entity of this output";
    };
    std::string problem = unresolved("source", source);
    if (problem.empty()) problem = unresolved("target", target);
    if (!problem.empty()) {
      drop(DropReason::kUnknownEntityRef, problem);
      continue;
    }
    if (!impl_->type_allowed(type, impl_->relation_types)) {
      drop(DropReason::kDisallowedType, "relation type \"" + type + "\" is not allowed");
      continue;
    }
    if (source == target && !contains(impl_->options.self_relation_types, type)) {
      drop(DropReason::kSelfRelation, "relation " + type + " links \"" + source + "\" to itself");
      continue;
    }
    Evidence ev = impl_->check_evidence(doc, evidence, run, FactKind::kRelation, index, v);
    if (!ev.span) {
      drop(ev.reason, ev.detail);
      continue;
    }
    std::string missing;
    for (const std::string* end : {&source, &target}) {
      if (end == &target && target == source) break;
      if (*end == kFilerRef) continue;  // the filing's own subject, by its metadata
      const VerifiedEntity& entity = v.entities[accepted.at(*end)];
      if (entity.is_subject) continue;  // the filing's own subject need not be named again
      std::string n = normalize(entity.name);
      if (n.empty() || ev.normalized.find(n) == std::string::npos) {
        if (!missing.empty()) missing += ", ";
        missing += "\"" + entity.name + "\"";
      }
    }
    if (!missing.empty()) {
      drop(DropReason::kNameNotInEvidence, "evidence does not name " + missing);
      continue;
    }
    VerifiedRelation vr;
    vr.index = index;
    vr.source_local_id = source;
    vr.target_local_id = target;
    vr.type = type;
    vr.evidence = evidence;
    vr.char_start = ev.span->char_start;
    vr.char_end = ev.span->char_end;
    auto pct = r.find("ownership_percent");
    if (pct != r.end() && pct->is_number()) vr.ownership_percent = pct->get<double>();
    vr.effective_date = optional_string(r, "effective_date");
    vr.role = optional_string(r, "role");
    v.relations.push_back(std::move(vr));
  }
  return v;
}

std::map<std::string, int> RowVerdict::dropped_by_reason() const {
  std::map<std::string, int> counts;
  for (const auto& d : dropped) ++counts[std::string(to_string(d.reason))];
  return counts;
}

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kSchemaInvalid: return "schema_invalid";
    case DropReason::kUnknownEntityRef: return "unknown_entity_ref";
    case DropReason::kDisallowedType: return "disallowed_type";
    case DropReason::kSelfRelation: return "self_relation";
    case DropReason::kEvidenceMissing: return "evidence_missing";
    case DropReason::kEvidenceTooShort: return "evidence_too_short";
    case DropReason::kEvidenceNotFound: return "evidence_not_found";
    case DropReason::kNameNotInEvidence: return "name_not_in_evidence";
    case DropReason::kCrossDocumentLeak: return "cross_document_leak";
  }
  return "schema_invalid";
}

const std::vector<DropReason>& all_drop_reasons() {
  static const std::vector<DropReason> kAll = {
      DropReason::kSchemaInvalid,     DropReason::kUnknownEntityRef,
      DropReason::kDisallowedType,    DropReason::kSelfRelation,
      DropReason::kEvidenceMissing,   DropReason::kEvidenceTooShort,
      DropReason::kEvidenceNotFound,  DropReason::kNameNotInEvidence,
      DropReason::kCrossDocumentLeak};
  return kAll;
}

std::optional<DropReason> parse_drop_reason(std::string_view name) {
  for (DropReason r : all_drop_reasons()) {
    if (to_string(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view to_string(FactKind kind) {
  switch (kind) {
    case FactKind::kOutput: return "output";
    case FactKind::kEntity: return "entity";
    case FactKind::kRelation: return "relation";
  }
  return "output";
}

}  // namespace fgraph::verify
