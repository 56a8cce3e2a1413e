#pragma once
// What a prover run records, as Jepsen does: every operation a client
// starts (invoke) and how it ended (ok, fail, or info: unknown, the client
// died or lost its connection first), every write the fenced resource saw,
// and every fault the nemesis injected and healed. Times are microseconds
// of CLOCK_MONOTONIC since the run began: one clock for every process on
// the machine, so events of different clients compare.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::prover {

enum class Type : uint8_t { Invoke, Ok, Fail, Info };
enum class Fn : uint8_t {
  Acquire,  // value: the fencing token on ok (0: the target has none); permit: a semaphore's slot
  Release,
  Write,    // the fenced resource's view: ok = accepted, fail = refused as stale; value: the token, permit: its slot
  Fault,    // the nemesis: detail names it ("kill", "stop", ...); process: its target (-1: the broker)
  Heal,
  Enqueue,  // queue workload; value: the message id; ok = confirmed
  Dequeue,  // value: the message id delivered (ok); acked right after
};

struct Op {
  int64_t t_us = 0;
  int process = 0;  // client index; -1: the nemesis or the broker
  Type type = Type::Invoke;
  Fn f = Fn::Acquire;
  uint64_t value = 0;
  std::string detail;
  // Acquire ok and Write: a semaphore's permit slot (x-lock-permit),
  // 1..permits; 0: none (a mutex, a recipe without tokens).
  uint32_t permit = 0;
  bool operator==(const Op&) const = default;
};

using History = std::vector<Op>;

std::string_view to_string(Type t);
std::string_view to_string(Fn f);
std::optional<Type> parse_type(std::string_view s);
std::optional<Fn> parse_fn(std::string_view s);

// One JSON object per line: {"t":..,"p":..,"type":"ok","f":"acquire","value":..,"detail":"..","permit":..}
// (detail and permit only when set).
std::string to_json_line(const Op& op);
std::optional<Op> from_json_line(std::string_view line);
void write_history(std::ostream& out, const History& h);

}  // namespace warren::prover
