#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/core.h"

namespace fgraph {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

struct Sha256::Impl {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx{EVP_MD_CTX_new()};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  FGRAPH_CHECK(impl_->ctx != nullptr);
  FGRAPH_CHECK(EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  FGRAPH_CHECK(EVP_DigestUpdate(impl_->ctx.get(), bytes.data(), bytes.size()) == 1);
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  FGRAPH_CHECK(EVP_DigestFinal_ex(impl_->ctx.get(), md, &len) == 1);
  return to_hex(md, len);
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

std::string sha256_fields(std::initializer_list<std::string_view> fields) {
  Sha256 h;
  for (std::string_view f : fields) {
    std::string len = std::to_string(f.size());
    len.push_back(':');
    h.update(len);
    h.update(f);
  }
  return h.hex_digest();
}

std::string random_hex(std::size_t n_bytes) {
  std::string buf(n_bytes, '\0');
  FGRAPH_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()),
                          static_cast<int>(n_bytes)) == 1);
  return to_hex(reinterpret_cast<const unsigned char*>(buf.data()), n_bytes);
}

}  // namespace fgraph
