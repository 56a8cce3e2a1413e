#include "auth/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace warren::auth {

namespace {

constexpr size_t kSaltBytes = 4;

const EVP_MD* digest_of(HashAlgorithm a) {
  switch (a) {
    case HashAlgorithm::Sha256: return EVP_sha256();
    case HashAlgorithm::Sha512: return EVP_sha512();
    case HashAlgorithm::Md5: return EVP_md5();
  }
  return EVP_sha256();
}

// salt ++ H(salt ++ password)
std::vector<uint8_t> salted_hash(std::string_view password, std::span<const uint8_t, kSaltBytes> salt,
                                 HashAlgorithm a) {
  std::vector<uint8_t> out(salt.begin(), salt.end());
  out.resize(kSaltBytes + EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestInit_ex(ctx, digest_of(a), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data() + kSaltBytes, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("OpenSSL digest failed");
  out.resize(kSaltBytes + len);
  return out;
}

std::string base64(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

// Strict base64 (padding included); nullopt when malformed.
std::optional<std::vector<uint8_t>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<uint8_t> out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes: take them off.
  size_t len = size_t(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && len > 0; --i) --len;
  out.resize(len);
  return out;
}

}  // namespace

std::optional<HashAlgorithm> parse_hash_algorithm(std::string_view name) {
  if (name == "rabbit_password_hashing_sha256") return HashAlgorithm::Sha256;
  if (name == "rabbit_password_hashing_sha512") return HashAlgorithm::Sha512;
  if (name == "rabbit_password_hashing_md5") return HashAlgorithm::Md5;
  return std::nullopt;
}

std::string_view hash_algorithm_name(HashAlgorithm a) {
  switch (a) {
    case HashAlgorithm::Sha256: return "rabbit_password_hashing_sha256";
    case HashAlgorithm::Sha512: return "rabbit_password_hashing_sha512";
    case HashAlgorithm::Md5: return "rabbit_password_hashing_md5";
  }
  return "rabbit_password_hashing_sha256";
}

std::string hash_password(std::string_view password, HashAlgorithm a) {
  std::array<uint8_t, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), int(salt.size())) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
  return hash_password(password, salt, a);
}

std::string hash_password(std::string_view password, std::span<const uint8_t, 4> salt, HashAlgorithm a) {
  return base64(salted_hash(password, salt, a));
}

bool valid_hash(std::string_view hash, HashAlgorithm a) {
  auto raw = unbase64(hash);
  return raw && raw->size() == kSaltBytes + size_t(EVP_MD_get_size(digest_of(a)));
}

bool verify_password(std::string_view hash, HashAlgorithm a, std::string_view password) {
  auto raw = unbase64(hash);
  if (!raw || raw->size() != kSaltBytes + size_t(EVP_MD_get_size(digest_of(a)))) return false;
  const std::vector<uint8_t> mine = salted_hash(password, std::span<const uint8_t, kSaltBytes>(raw->data(), kSaltBytes), a);
  return CRYPTO_memcmp(mine.data(), raw->data(), raw->size()) == 0;
}

}  // namespace warren::auth
