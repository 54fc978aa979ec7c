// A compiled JSON Schema (valijson, nlohmann adapter) that reports the JSON pointer of the
// first violation. Internal to the verify stage; its .cpp is the only one that includes
// valijson. The Verifier and the JSON-Schema-Test-Suite test share it.
//
// Threading: validate() is const and may run on many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/core.h"

namespace fgraph::verify::internal {

struct SchemaCheck {
  bool ok = false;
  bool parsed = false;       // false: the instance is not JSON at all
  std::string pointer;       // RFC 6901 pointer of the first violation ("" = root)
  std::string description;   // the validator's words for it, or the parse error
};

class SchemaValidator {
 public:
  // kInvalidInput when `schema_text` is not JSON or not a schema valijson can compile.
  static Result<std::shared_ptr<const SchemaValidator>> compile(std::string_view schema_text);
  ~SchemaValidator();

  // Validates one instance given as JSON text.
  SchemaCheck validate_text(std::string_view instance_text) const;
  // Validates an instance already parsed (parsed is true in the answer).
  SchemaCheck validate(const nlohmann::json& instance) const;

 private:
  SchemaValidator();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fgraph::verify::internal
