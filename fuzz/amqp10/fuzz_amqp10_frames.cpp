// Fuzzes the AMQP 1.0 codec with what a peer could send: a stream of frames
// parsed one after another, each decoded performative re-encoded and parsed
// again (it must come back equal, payload included), the payload of every
// transfer split into message sections. The whole input is also decoded as
// one value and as each composite type (source, target, outcomes... that
// arrive inside "*" fields), which must round-trip too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "amqp10/frame.hpp"
#include "amqp10/message.hpp"

using namespace warren::amqp10;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check_frame_round_trip(const Frame& f) {
  std::string out;
  append_frame(out, f.type, f.channel, f.body, f.payload);
  Frame g;
  ParseResult r = parse_frame(as_bytes(out), UINT32_MAX, g);
  if (r.status != ParseStatus::Ok) violated("a re-encoded frame does not parse");
  if (r.consumed != out.size()) violated("a re-encoded frame has the wrong size");
  if (g.type != f.type || g.channel != f.channel) violated("frame header changed");
  if (!(g.body == f.body)) violated("performative changed");
  if (as_chars(g.payload) != as_chars(f.payload)) violated("payload changed");
}

template <class T>
void check_composite_round_trip(const T& m) {
  std::string out;
  Encoder e(out);
  m.encode(e);
  Decoder d(as_bytes(out));
  T back;
  if (!T::decode(d, back) || !d.at_end() || !(back == m)) violated("a re-encoded composite changed");
}

template <class T>
void check_composite(std::span<const uint8_t> in) {
  Decoder d(in);
  T m;
  if (T::decode(d, m)) check_composite_round_trip(m);
}

void check_message(std::span<const uint8_t> payload) {
  MessageSections m;
  std::string error;
  if (!split_message(payload, m, error)) return;
  if (m.header) check_composite_round_trip(*m.header);
  if (m.properties) check_composite_round_trip(*m.properties);
  if (m.bare.size() > payload.size() || m.body.size() > m.bare.size()) violated("section spans out of range");
}

void check_value_round_trip(std::span<const uint8_t> in) {
  Decoder d(in);
  Value v;
  if (!d.read_value(v)) return;
  const size_t used = d.position();
  std::string out;
  Encoder e(out);
  e.write_value(v);
  Decoder again(as_bytes(out));
  Value back;
  if (!again.read_value(back) || !again.at_end()) violated("a re-encoded value does not decode");
  if (!(back == v)) violated("value changed");
  Decoder skip(in);
  if (!skip.skip_value() || skip.position() != used) violated("skip_value disagrees with read_value");
  (void)v.to_string();
}

// Every composite type the input may decode as, without its frame around it.
template <class... T>
void check_composites(std::span<const uint8_t> in) {
  (check_composite<T>(in), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  check_value_round_trip(in);
  check_composites<Open, Begin, Attach, Flow, Transfer, Disposition, Detach, End, Close, Error, Header, Properties,
                   Received, Accepted, Rejected, Released, Modified, Source, Target, DeleteOnClose, DeleteOnNoLinks,
                   DeleteOnNoMessages, DeleteOnNoLinksOrMessages, SaslMechanisms, SaslInit, SaslChallenge,
                   SaslResponse, SaslOutcome, Coordinator, Declare, Discharge, Declared, TransactionalState>(in);
  {
    Decoder d(in);
    std::vector<std::string> symbols;
    (void)d.read_symbol_multiple(symbols);
  }
  Frame f;
  for (int frames = 0; frames < 256 && !in.empty(); ++frames) {
    ParseResult r = parse_frame(in, 65536, f);
    if (r.status != ParseStatus::Ok) break;
    check_frame_round_trip(f);
    if (std::holds_alternative<Transfer>(f.body)) check_message(f.payload);
    in = in.subspan(r.consumed);
  }
  return 0;
}
