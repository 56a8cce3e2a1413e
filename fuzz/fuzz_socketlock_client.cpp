// Fuzzes the socketlock client engine: arbitrary bytes arrive as server
// output, interleaved with the caller's acquire/cancel/release/show/eol and
// the passing of time. Nothing may crash, and the engine's own promises hold.
//
// Input: one config byte, then chunks separated by '\0'. Each chunk is
//   <op> <dt> <bytes...>
// dt:  time passes by (dt - '0') * 250 ms first ('0' none); '~' jumps to
//      the engine's next deadline. Then the engine advances.
// op:  'A' acquire (bytes: 'w' for write, else read; then TTL digits, if
//      any), 'C' cancel, 'R' release, 'S' show, 'E' eol; anything else
//      feeds the bytes to the engine as if the server had sent them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "socketlock/client_engine.hpp"

using namespace warren;
using namespace std::chrono_literals;
using socketlock::ClientEvent;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check(socketlock::ClientEngine& c, bool& broken) {
  if (c.holding() && c.busy()) violated("holding while an acquire is in flight");
  const std::string& out = c.output();
  if (!out.empty() && out.back() != '\n') violated("output not terminated by a newline");
  std::vector<ClientEvent> ev;
  c.take_events(ev);
  for (const ClientEvent& e : ev) {
    switch (e.kind) {
      case ClientEvent::Kind::Ready:
        if (broken) violated("Ready after Broken");
        break;
      case ClientEvent::Kind::Acquired:
        if (broken) violated("Acquired after Broken");
        if (e.lock_id.empty()) violated("Acquired without a lock id");
        if (c.go_dialect() && e.token != 0) violated("Go-dialect lock with a token");
        break;
      case ClientEvent::Kind::Broken:
        if (broken) violated("Broken twice");
        broken = true;
        break;
      default:  // a lease may still run out locally after Broken: Lost is fine
        break;
    }
  }
  if (broken && c.ready()) violated("ready after Broken");
  c.output().clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint8_t cfg = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);

  static const char* const kIds[] = {"a", "proc-7f3a", "", "a b"};
  socketlock::ClientOptions opts;
  opts.client_id = kIds[cfg % 4];
  opts.hello_timeout = 2s;
  opts.status_interval = (cfg & 0x04) ? warren::Duration(40s) : warren::Duration(10s);
  opts.heartbeat = 30s;
  socketlock::ClientEngine c(opts);
  warren::TimePoint now = warren::TimePoint{} + 1h;
  bool broken = false;
  c.start(now);
  check(c, broken);

  for (int chunks = 0; !in.empty() && chunks < 256; ++chunks) {
    size_t end = in.find('\0');
    std::string_view chunk = in.substr(0, end);
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
    if (chunk.size() < 2) continue;
    const char op = chunk[0];
    const uint8_t dt = static_cast<uint8_t>(chunk[1]);
    chunk.remove_prefix(2);

    if (dt == '~') {
      if (auto d = c.next_deadline()) now = std::max(now, *d);
    } else {
      now += static_cast<uint8_t>(dt - '0') * 250ms;
    }
    c.advance(now);
    if (auto d = c.next_deadline(); d && *d <= now) violated("deadline in the past after advance");
    check(c, broken);

    switch (op) {
      case 'A': {
        const bool write = !chunk.empty() && (chunk[0] == 'w' || chunk[0] == 'W');
        std::optional<std::chrono::seconds> ttl;
        if (chunk.size() > 1) {
          std::string_view digits = chunk.substr(1, 6);  // at most 999999 s: a sane caller
          if (auto v = socketlock::parse_u64(digits)) ttl = std::chrono::seconds(*v);
        }
        const bool could = c.ready() && !c.busy() && !c.holding();
        if (c.acquire(write ? locks::Mode::Exclusive : locks::Mode::Shared, ttl, now) != could)
          violated("acquire() disagrees with ready/busy/holding");
        if (could && !c.busy()) violated("acquire() accepted but not busy");
        break;
      }
      case 'C': {
        const bool busy = c.busy();
        if (c.cancel(now) && !busy) violated("cancel() with nothing in flight");
        break;
      }
      case 'R':
        c.release(now);
        if (c.holding()) violated("still holding after release()");
        break;
      case 'S': c.show(now); break;
      case 'E': c.eol(now); break;
      default: c.feed(chunk, now); break;
    }
    check(c, broken);
  }
  return 0;
}
