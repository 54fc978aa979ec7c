#include "service/internal/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace fgraph::service {

bool tokens_equal(std::string_view a, std::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Result<TokenSource> load_or_create_token(const std::string& configured, const std::string& home) {
  TokenSource out;
  if (!configured.empty()) {
    out.token = configured;
    return out;
  }
  out.file = (std::filesystem::path(home) / "service.token").string();
  struct stat st {};
  if (::stat(out.file.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return make_error(ErrorCode::kInvalidInput, "the token file " + out.file +
                                                      " must have mode 0600 (chmod 600 " +
                                                      out.file + ")");
    }
    auto text = read_file(out.file, 4096);
    if (!text) return text.error();
    out.token = *text;
    while (!out.token.empty() && std::isspace(static_cast<unsigned char>(out.token.back()))) {
      out.token.pop_back();
    }
    if (out.token.empty()) {
      return make_error(ErrorCode::kInvalidInput, "the token file " + out.file + " is empty");
    }
    return out;
  }
  out.token = random_hex(32);
  out.created = true;
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  int fd = ::open(out.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kInternal, "cannot create the token file " + out.file);
  }
  const std::string line = out.token + "\n";
  const bool written = ::fchmod(fd, 0600) == 0 &&
                       ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) return make_error(ErrorCode::kInternal, "cannot write the token file " + out.file);
  return out;
}

}  // namespace fgraph::service
