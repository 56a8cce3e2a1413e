#pragma once
// Password hashes in RabbitMQ's format, so that a definitions export moves
// users between RabbitMQ and Warren unchanged: base64(salt ++ H(salt ++
// password)), with a 4-byte random salt and H one of RabbitMQ's hashing
// modules (SHA-256 by default, as rabbit_password_hashing_sha256).
// Plaintext passwords are never stored, logged or kept after hashing.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::auth {

enum class HashAlgorithm : uint8_t { Sha256, Sha512, Md5 };

// "rabbit_password_hashing_sha256" and its siblings; nullopt if unknown.
std::optional<HashAlgorithm> parse_hash_algorithm(std::string_view name);
std::string_view hash_algorithm_name(HashAlgorithm a);

// A new hash of `password` with a fresh random salt (OpenSSL's RAND_bytes).
std::string hash_password(std::string_view password, HashAlgorithm a = HashAlgorithm::Sha256);
// The same with a given salt: for tests and for checking a hash.
std::string hash_password(std::string_view password, std::span<const uint8_t, 4> salt, HashAlgorithm a);

// Whether `password` matches `hash` (base64, as hash_password makes it).
// Constant time in the password's content; false for a malformed hash.
bool verify_password(std::string_view hash, HashAlgorithm a, std::string_view password);

// Whether `hash` is well-formed for `a` (base64 of 4 + digest bytes).
bool valid_hash(std::string_view hash, HashAlgorithm a);

}  // namespace warren::auth
