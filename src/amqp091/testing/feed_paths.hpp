#pragma once
// For tests and the fuzzer: the same client bytes through the engine's two
// input paths, on two brokers - feed() of each chunk, as a socket read on
// the broker's thread gives it, and Preparser::cut + feed_batch(), as the
// reader thread gives it (src/server/socket_reader.cpp) - so that a test
// can check they answer alike: that is the contract of feed_batch().
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "amqp091/connection.hpp"
#include "amqp091/preparse.hpp"
#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"

namespace warren::amqp091::testing {

class RecordingTransport final : public Transport {
 public:
  std::string out;
  bool closed = false;
  void send(std::string_view bytes) override {
    if (!closed) out.append(bytes);
  }
  void send_shared(std::shared_ptr<const std::string> bytes) override { send(*bytes); }
  size_t pending_output() const override { return 0; }
  void want_drain() override {}
  void close() override { closed = true; }
  void set_reading(bool) override {}
};

struct PathOutputs {
  std::string fed, batched;  // what each engine sent
  bool fed_closed = false, batched_closed = false;
};

// `chunks` are the reads, in order; time stands still. The second engine is
// fed by feed() too until read `move_at`, and moves to the batched path at
// the first read from there on where it is open(), as a connection that
// moves to a reader thread does. (Its cutter allows the configured
// frame-max, not the negotiated one the server gives it, so that the
// engine's own check of each frame is exercised too.)
// With `slice`, each batch is fed in steps of that many frames, as the
// server does to share a loop turn.
inline PathOutputs run_both_paths(const std::vector<std::string_view>& chunks, const ServerOptions& opts,
                                  size_t move_at = 0, size_t slice = SIZE_MAX) {
  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  broker::SeededEnv env_a, env_b;  // alike: both brokers name things alike
  broker::Broker broker_a(env_a, now), broker_b(env_b, now);
  RecordingTransport ta, tb;
  {
    Connection a(broker_a, 1, opts, ta, true, now);
    Connection b(broker_b, 1, opts, tb, true, now);
    Preparser cutter(opts.frame_max);
    std::string carry;
    FrameBatch batch;
    bool fed_whole = true;
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::string_view chunk = chunks[i];
      a.feed(as_bytes(chunk), now);
      if (fed_whole && i >= move_at && b.open()) {
        fed_whole = false;
        carry = b.take_partial_input();
      }
      if (fed_whole) {
        b.feed(as_bytes(chunk), now);
        continue;
      }
      carry.append(chunk);
      const size_t used = cutter.cut(as_bytes(carry), batch);
      size_t from = 0;
      do {
        from = b.feed_batch(batch, now, from, slice);
      } while (from < batch.frames.size());
      carry.erase(0, used);
    }
    a.transport_closed(now);
    b.transport_closed(now);
  }
  return {std::move(ta.out), std::move(tb.out), ta.closed, tb.closed};
}

// Empty when the two outputs are the same frames. Frames that carry a name
// the broker draws at random (amq.gen-..., direct reply-to) need only have
// the same size.
inline std::string compare_outputs(const PathOutputs& o) {
  if (o.fed_closed != o.batched_closed) return "one engine closed its transport and the other did not";
  if (o.fed.size() != o.batched.size())
    return "outputs differ in size: " + std::to_string(o.fed.size()) + " vs " + std::to_string(o.batched.size());
  auto random_named = [](std::string_view s) {
    return s.find("amq.gen-") != std::string_view::npos || s.find("amq.rabbitmq.reply-to.") != std::string_view::npos;
  };
  FrameReader ra(as_bytes(o.fed), 0), rb(as_bytes(o.batched), 0);
  Frame fa, fb;
  size_t n = 0;
  while (ra.next(fa)) {
    if (!rb.next(fb)) return "frame " + std::to_string(n) + " is missing from the batched output";
    std::string_view pa = as_chars(fa.payload), pb = as_chars(fb.payload);
    if (fa.type != fb.type || fa.channel != fb.channel || pa.size() != pb.size() ||
        (pa != pb && !(random_named(pa) && random_named(pb))))
      return "frame " + std::to_string(n) + " differs";
    ++n;
  }
  // The rest (a protocol header answering a wrong one) compares as bytes.
  if (o.fed.substr(ra.consumed()) != o.batched.substr(rb.consumed())) return "trailing bytes differ";
  return {};
}

}  // namespace warren::amqp091::testing
