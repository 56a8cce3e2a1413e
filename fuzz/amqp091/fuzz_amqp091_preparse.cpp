// Differential fuzzer for the reader thread's path: the same client bytes
// go to one engine through feed() and to another (on its own broker)
// through Preparser::cut + feed_batch(), split into the same reads. The two
// must send the same frames (up to the names a broker draws at random) and
// agree on closing; neither may crash or leak. See
// src/amqp091/testing/feed_paths.hpp.
//
// Input: <mode> <split> <session bytes...>
//   mode & 1:       a prefix comes first: protocol header, start-ok, tune-ok,
//                   open, channel.open 1, queue.declare "q", basic.consume
//                   "q" (no-ack) and, with mode & 4, confirm.select
//   mode >> 1 & 1:  frame_max 131072 or 4096 in the prefix's tune-ok
//   mode & 8:       the batched engine is fed by feed() until read mode >> 4
//                   (else until it is open) and moves to the batched path
//                   once open after it, as a connection moving to a reader
//                   thread does
//   split:          seeds where the session is cut into reads (0: whole);
//                   with its top bit, batches are fed in steps of
//                   1 + (split & 7) frames, as the server shares a turn
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "amqp091/field_table.hpp"
#include "amqp091/testing/feed_paths.hpp"

using namespace warren;
using namespace warren::amqp091;

namespace {

template <class M>
void append(std::string& out, uint16_t channel, const M& m) {
  if (!append_method_frame(out, channel, m)) std::abort();
}

std::string prefix(uint32_t frame_max, bool confirms) {
  std::string out(as_chars(kProtocolHeader));
  ConnectionStartOk s;
  s.mechanism = "PLAIN";
  s.response = std::string_view("\0guest\0guest", 12);
  append(out, 0, s);
  ConnectionTuneOk t;
  t.channel_max = 2047;
  t.frame_max = frame_max;
  append(out, 0, t);
  append(out, 0, ConnectionOpen{});
  append(out, 1, ChannelOpen{});
  QueueDeclare d;
  d.queue = "q";
  append(out, 1, d);
  BasicConsume c;
  c.queue = "q";
  c.consumer_tag = "c";
  c.no_ack = true;
  append(out, 1, c);
  if (confirms) append(out, 1, ConfirmSelect{});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  uint32_t split = data[1];
  std::string session;
  if (mode & 1) session = prefix(mode & 2 ? 4096 : 131072, mode & 4);
  session.append(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<std::string_view> reads;
  for (size_t at = 0; at < session.size();) {
    size_t n = session.size() - at;
    if (split != 0) {
      split = split * 1103515245u + 12345u;  // a small LCG: reads of 1..64 octets
      n = std::min<size_t>(n, 1 + (split >> 16) % 64);
    }
    reads.push_back(std::string_view(session).substr(at, n));
    at += n;
  }
  const size_t move_at = mode & 8 ? size_t(mode >> 4) : 0;
  const size_t slice = data[1] & 0x80 ? 1 + (data[1] & 7) : SIZE_MAX;
  testing::PathOutputs out = testing::run_both_paths(reads, ServerOptions{}, move_at, slice);
  std::string diff = testing::compare_outputs(out);
  if (!diff.empty()) {
    std::fprintf(stderr, "feed() and feed_batch() disagree: %s\n", diff.c_str());
    std::abort();
  }
  return 0;
}
