// The service's bearer token: where it comes from and how it is compared.
// Threading: pure functions, except load_or_create_token (the file system).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/core.h"

namespace fgraph::service {

// True when both tokens are equal, in time independent of where they differ and of
// their lengths: the SHA-256 digests of both are compared with CRYPTO_memcmp.
bool tokens_equal(std::string_view a, std::string_view b);

// The token of an "Authorization: Bearer TOKEN" header value (scheme case-insensitive);
// nullopt for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

struct TokenSource {
  std::string token;
  std::string file;      // the token file that was read or created, "" when configured
  bool created = false;  // a new token was written to `file`
};

// `configured` (FGRAPH_SERVICE_TOKEN or service.token_file, read by the config) when
// set; else the token in <home>/service.token (refused unless mode 0600); else a new
// random one (32 bytes from RAND_bytes, hex) written there with mode 0600, never
// overwriting a file. kInvalidInput for a token file that others can read or that is
// empty; kInternal when it cannot be written.
Result<TokenSource> load_or_create_token(const std::string& configured, const std::string& home);

}  // namespace fgraph::service
