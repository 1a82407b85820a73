// Owning handles for OpenSSL cipher objects used by the inline engines.
#pragma once

#include <openssl/evp.h>

#include <memory>

namespace dquic::offload {

struct CipherDeleter {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherDeleter>;
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

}  // namespace dquic::offload
