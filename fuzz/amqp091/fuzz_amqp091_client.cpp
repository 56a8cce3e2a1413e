// Fuzzes the client engine (warren-client's Session) with arbitrary broker
// output on an open connection with one consumer, and checks that how the
// input is cut does not matter: fed whole, and fed in pieces whose sizes
// the input picks, it must give the same deliveries and returns, and end
// the connection (or not) with the same code. Large body frames are read
// into their message as they arrive (Session::start_body) only when they
// come in pieces, so this compares that path with the ordinary one.
//
// Input: one octet N, then N octets of cut sizes (each 1..256, times 1
// or 1024 by its top bit), then the broker's bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "amqp091/frame.hpp"
#include "client/session.hpp"

using namespace warren;
using namespace warren::client;
namespace a = warren::amqp091;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

template <class M>
std::string frame(uint16_t ch, const M& m) {
  std::string f;
  if (!a::append_method_frame(f, ch, m)) violated("a setup frame did not encode");
  return f;
}

struct Outcome {
  std::vector<std::string> bodies;  // deliveries and returns, in order
  bool dropped = false;
  uint16_t code = 0;
};

struct Client {
  Session s{SessionOptions{.frame_max = 131072, .recover = false}};
  TimePoint now{};
  Outcome out;
  std::vector<ReadyItem> ready;
  uint16_t ch = 0;

  void feed(std::string_view b) { s.feed(a::as_bytes(b), now); }
  void run() {
    s.take_ready(ready);
    run_ready(ready);
  }

  Client() {
    s.transport_up(now);
    feed(frame(0, a::ConnectionStart{.mechanisms = "PLAIN"}));
    feed(frame(0, a::ConnectionTune{.channel_max = 2047, .frame_max = 131072, .heartbeat = 0}));
    feed(frame(0, a::ConnectionOpenOk{}));
    ChannelEvents ev;
    ev.returned = [this](Returned&& r) { out.bodies.push_back("R" + r.message.body); };
    ch = s.open_channel(std::move(ev), [](const std::optional<Error>&) {});
    feed(frame(ch, a::ChannelOpenOk{}));
    s.consume(ch, {.queue = "q", .tag = "c1"},
              {.delivery = [this](Delivery&& d) { out.bodies.push_back("D" + d.message.body); }},
              [](const std::optional<Error>&, std::string&&) {});
    feed(frame(ch, a::BasicConsumeOk{.consumer_tag = "c1"}));
    run();
    std::string sent;
    s.take_output(sent, now);
    if (s.state() != Session::State::Open || s.wants_transport_closed()) violated("the setup did not open");
  }

  void finish() {
    run();
    out.dropped = s.wants_transport_closed();
    out.code = out.dropped ? s.drop_reason()->code : 0;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t ncuts = std::min<size_t>(data[0], size - 1);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < ncuts; ++i) {
    const uint8_t c = data[1 + i];
    cuts.push_back(size_t((c & 0x7f) + 1) * (c & 0x80 ? 1024 : 1));
  }
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1 + ncuts, size - 1 - ncuts);

  Client whole;
  whole.feed(wire);
  whole.finish();

  Client pieces;
  size_t at = 0;
  for (size_t i = 0; at < wire.size(); ++i) {
    const size_t n = std::min(wire.size() - at, cuts.empty() ? wire.size() : cuts[i % cuts.size()]);
    pieces.feed(wire.substr(at, n));
    at += n;
    if (i % 3 == 2) pieces.run();  // callbacks between reads, as the drivers run them
  }
  pieces.finish();

  if (whole.out.dropped != pieces.out.dropped) violated("the cut decided whether the connection ended");
  if (whole.out.code != pieces.out.code) violated("the cut changed the close code");
  // Frames after an error are read by neither: the messages before it match too.
  if (whole.out.bodies != pieces.out.bodies) violated("the cut changed the messages");
  return 0;
}
