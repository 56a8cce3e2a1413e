#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <array>

namespace warren::auth {
namespace {

constexpr std::array<uint8_t, 4> kSalt{0xCA, 0xD5, 0x08, 0x9B};

// Expected values computed independently (Python's hashlib and base64):
// base64(salt ++ H(salt ++ "simon")), RabbitMQ's format.
TEST(Password, MatchesRabbitMqFormatForEachAlgorithm) {
  EXPECT_EQ(hash_password("simon", kSalt, HashAlgorithm::Sha256), "ytUIm1ruBv8dbuXf8jo3yKhGfE9Xu5vXpi7ti/E17ovdt2wK");
  EXPECT_EQ(hash_password("simon", kSalt, HashAlgorithm::Md5), "ytUIm8s3AnKsXQjptplKFytfVxI=");
  EXPECT_EQ(hash_password("simon", kSalt, HashAlgorithm::Sha512),
            "ytUIm/Xb3yB16kTpWLMGsdQshDQIRgWveYehTItxpYNIE5CNeIRuSaf9d0+A5sBl6Sdr9wjM9UD7oD17+iNKfcYnX6U=");
}

TEST(Password, VerifiesOnlyTheRightPassword) {
  const std::string h = hash_password("s3cret");
  EXPECT_TRUE(verify_password(h, HashAlgorithm::Sha256, "s3cret"));
  EXPECT_FALSE(verify_password(h, HashAlgorithm::Sha256, "s3cret "));
  EXPECT_FALSE(verify_password(h, HashAlgorithm::Sha256, ""));
  EXPECT_FALSE(verify_password(h, HashAlgorithm::Sha512, "s3cret"));  // wrong algorithm: wrong length
  EXPECT_TRUE(verify_password("ytUIm8s3AnKsXQjptplKFytfVxI=", HashAlgorithm::Md5, "simon"));
}

TEST(Password, SaltsDiffer) {
  EXPECT_NE(hash_password("same"), hash_password("same"));
  EXPECT_EQ(hash_password("same").find("same"), std::string::npos);
}

TEST(Password, MalformedHashesNeverVerify) {
  for (std::string_view bad : {"", "abc", "!!!!", "ytUIm8s3AnKsXQjptplKFytfVxI", "ytUIm8s3AnKsXQjptplKFytf"})
    EXPECT_FALSE(verify_password(bad, HashAlgorithm::Md5, "simon")) << bad;
  EXPECT_TRUE(valid_hash("ytUIm8s3AnKsXQjptplKFytfVxI=", HashAlgorithm::Md5));
  EXPECT_FALSE(valid_hash("ytUIm8s3AnKsXQjptplKFytfVxI=", HashAlgorithm::Sha256));
}

TEST(Password, AlgorithmNamesRoundTrip) {
  for (auto a : {HashAlgorithm::Sha256, HashAlgorithm::Sha512, HashAlgorithm::Md5})
    EXPECT_EQ(parse_hash_algorithm(hash_algorithm_name(a)), a);
  EXPECT_FALSE(parse_hash_algorithm("rabbit_password_hashing_bcrypt"));
}

}  // namespace
}  // namespace warren::auth
