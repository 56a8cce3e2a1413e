#pragma once
// Slows a password guesser down to a crawl without locking anyone out for
// long: each source address may fail `burst` logins at once, then one more
// every `refill`. While an address has no failures left, its attempts are
// refused without looking at the password, so a brute force learns nothing
// faster than the refill rate, however many connections it opens. Logins
// that succeed cost nothing. Time is an input (sans-I/O).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/time.hpp"

namespace warren::auth {

class LoginThrottle {
 public:
  struct Options {
    uint32_t burst = 10;                                         // failures an address may make at once
    std::chrono::milliseconds refill = std::chrono::seconds(1);  // one more failure allowed per this
    size_t max_addresses = 65536;  // beyond this, full buckets are forgotten first, then all
  };
  LoginThrottle() : LoginThrottle(Options{}) {}
  explicit LoginThrottle(Options o) : opts_(o) {}

  // Whether `address` may try a password now.
  bool allowed(std::string_view address, TimePoint now);
  // A password from `address` was wrong.
  void failed(std::string_view address, TimePoint now);
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    TimePoint at;
  };
  void refill(Bucket& b, TimePoint now) const;
  void prune(TimePoint now);

  Options opts_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace warren::auth
