#pragma once
// What the broker core needs from the world and may not ask it for itself:
// randomness and the wall clock (as LevelDB's Env). The owner of a Broker
// passes one in and keeps it alive as long as the Broker. With the same
// Env state and the same calls, the core does the same thing: no clock,
// randomness or system query is read inside src/broker.
//
// warrend passes server::SystemEnv (src/server/system_env.hpp: the
// kernel's generator and the system clock); tests and fuzzers pass
// broker::SeededEnv (seeded_env.hpp), which is deterministic. Monotonic
// time is not here: it is an argument (`now`) of every call that needs it.
#include <cstdint>
#include <span>

namespace warren::broker {

class Env {
 public:
  virtual ~Env() = default;

  // Fills `out` with random bytes. A real Env's must be unpredictable: the
  // names made of them (direct reply-to) must not be guessable from others.
  virtual void fill_random(std::span<uint8_t> out) = 0;
  // Seconds since the POSIX epoch, for x-death's "time".
  virtual uint64_t unix_seconds() = 0;

  uint64_t random_u64() {
    uint8_t b[8];
    fill_random(b);
    uint64_t v = 0;
    for (uint8_t x : b) v = v << 8 | x;
    return v;
  }
};

}  // namespace warren::broker
