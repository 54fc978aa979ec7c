// The JSON API's view of a run's documents (GET /v1/runs/{id}/documents,
// /v1/runs/{id}/documents/{doc_id}, /v1/runs/{id}/dropped): the same typed calls the web
// console's run and document pages read, as JSON (tools/json_output).
// Threading: uses the LedgerContext it is given, on the calling thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/core.h"
#include "run/run.h"
#include "service/internal/ledger.h"

namespace fgraph::service {

// `op` is the route's operation id (list_documents, get_document, list_dropped); `params`
// its path parameters; `query` its query string. kInvalidInput for a bad page or
// per_page, kNotFound for an unknown run or document.
Result<nlohmann::json> documents_api(std::string_view op, LedgerContext& ledger,
                                     const run::Settings& settings,
                                     const std::vector<std::string>& params,
                                     const std::map<std::string, std::string>& query);

}  // namespace fgraph::service
