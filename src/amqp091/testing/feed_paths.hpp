#pragma once
// For tests: the same client bytes, read alike, into two engines on two
// brokers - one fed by feed() of each read, the other the way warrend
// feeds a connection that moves to a reader thread (src/server/): by a
// FrameCutter the driver owns and hands over to another owner mid-stream,
// each read's frames fed in steps (Connection::feed_frames with a
// budget) - so that a test can check the steps and the hand-over change
// nothing.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "amqp091/connection.hpp"
#include "amqp091/frame_cutter.hpp"
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

// `chunks` are the reads, in order; time stands still. The second engine's
// cutter is handed over (moved to a new owner) before read `move_at`, as
// when a connection moves to a reader thread; each read's frames are fed
// in steps of `slice`, as the server shares a loop turn.
inline PathOutputs run_both_paths(const std::vector<std::string_view>& chunks, const ServerOptions& opts,
                                  size_t move_at = 0, size_t slice = SIZE_MAX) {
  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  broker::SeededEnv env_a, env_b;  // alike: both brokers name things alike
  broker::Broker broker_a(env_a, now), broker_b(env_b, now);
  RecordingTransport ta, tb;
  {
    Connection a(broker_a, 1, opts, ta, auth::Peer{"", true}, now);
    Connection b(broker_b, 1, opts, tb, auth::Peer{"", true}, now);
    auto cutter = std::make_unique<FrameCutter>(opts.frame_max);
    FrameBatch batch;
    for (size_t i = 0; i < chunks.size(); ++i) {
      a.feed(as_bytes(chunks[i]), now);
      if (i == move_at) cutter = std::make_unique<FrameCutter>(std::move(*cutter));
      cutter->cut(as_bytes(chunks[i]), batch);
      size_t from = 0;
      do {
        from = b.feed_frames(batch, now, from, slice);
      } while (from < batch.frames.size());
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
