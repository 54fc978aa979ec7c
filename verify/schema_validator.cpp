// valijson behind a small interface: compile a schema once, validate many instances.
#include "verify/internal/schema_validator.h"

#include <exception>

// Without this valijson aborts the process on a malformed schema instead of throwing.
#define VALIJSON_USE_EXCEPTIONS 1

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace fgraph::verify::internal {
namespace {

void append_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
}

// valijson names a path as {"<root>", "[entities]", "[0]", ...}; whether "[0]" is an
// index or a key named "0" is settled by walking the instance itself.
std::string pointer_from_context(const std::vector<std::string>& context,
                                 const nlohmann::json& root) {
  std::string pointer;
  const nlohmann::json* node = &root;
  for (std::size_t k = 1; k < context.size(); ++k) {
    std::string_view token = context[k];
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      token = token.substr(1, token.size() - 2);
    }
    append_token(pointer, token);
    if (node == nullptr) continue;
    if (node->is_array()) {
      std::size_t index = 0;
      bool digits = !token.empty();
      for (char c : token) {
        digits = digits && c >= '0' && c <= '9';
        if (digits) index = index * 10 + static_cast<std::size_t>(c - '0');
      }
      node = digits && index < node->size() ? &(*node)[index] : nullptr;
    } else if (node->is_object()) {
      auto it = node->find(std::string(token));
      node = it != node->end() ? &*it : nullptr;
    } else {
      node = nullptr;
    }
  }
  return pointer;
}

}  // namespace

struct SchemaValidator::Impl {
  valijson::Schema schema;
};

SchemaValidator::SchemaValidator() : impl_(std::make_unique<Impl>()) {}
SchemaValidator::~SchemaValidator() = default;

Result<std::shared_ptr<const SchemaValidator>> SchemaValidator::compile(
    std::string_view schema_text) {
  nlohmann::json doc = nlohmann::json::parse(schema_text, nullptr, false);
  if (doc.is_discarded()) {
    return make_error(ErrorCode::kInvalidInput, "schema is not valid JSON");
  }
  std::shared_ptr<SchemaValidator> v(new SchemaValidator());
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, v->impl_->schema);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidInput,
                      std::string("schema cannot be compiled: ") + e.what());
  }
  return std::shared_ptr<const SchemaValidator>(std::move(v));
}

SchemaCheck SchemaValidator::validate_text(std::string_view instance_text) const {
  nlohmann::json doc = nlohmann::json::parse(instance_text, nullptr, false);
  if (doc.is_discarded()) {
    SchemaCheck c;
    c.description = "output is not valid JSON";
    return c;
  }
  return validate(doc);
}

SchemaCheck SchemaValidator::validate(const nlohmann::json& instance) const {
  SchemaCheck c;
  c.parsed = true;
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::adapters::NlohmannJsonAdapter adapter(instance);
  valijson::ValidationResults results;
  try {
    c.ok = validator.validate(impl_->schema, adapter, &results);
  } catch (const std::exception& e) {
    c.ok = false;
    c.description = std::string("validator failed: ") + e.what();
    return c;
  }
  if (c.ok) return c;
  // valijson reports the innermost failure before the enclosing ones; the deepest error
  // of the first failing branch is the most useful: take the longest context among the
  // errors that share the first error's path prefix.
  const valijson::ValidationResults::Error* first = nullptr;
  for (const auto& e : results) {
    if (first == nullptr || e.context.size() > first->context.size()) {
      bool extends = first == nullptr ||
                     std::equal(first->context.begin(), first->context.end(),
                                e.context.begin());
      if (extends) first = &e;
    }
  }
  if (first != nullptr) {
    c.pointer = pointer_from_context(first->context, instance);
    c.description = first->description;
  }
  return c;
}

}  // namespace fgraph::verify::internal
