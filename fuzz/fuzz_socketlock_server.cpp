// Fuzzes the socketlock server engine: three sessions send arbitrary bytes,
// come and go, and time moves on; the lock must stay consistent and every
// reply must be a bounded, terminated line.
//
// Input: one config byte, then chunks separated by '\0'. Each chunk is
//   <ctl> <dt> <bytes...>
// ctl: session = ((ctl & 0x1f) + 2) % 3 + 1 ('A' 1, 'B' 2, 'C' 3); a
//      lower-case ctl (bit 0x20) first closes the session if open, or opens
//      it if closed.
// dt:  time passes by (dt - '0') * 100 ms before the chunk ('0' none); '~'
//      jumps to the server's next deadline.
// The bytes are fed to the session, then the server advances.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

#include "socketlock/server.hpp"

using namespace warren;
using namespace std::chrono_literals;
using socketlock::SessionId;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

struct CheckingTransport : socketlock::SessionIo {
  std::set<SessionId> open;  // as the server should see them
  void send(SessionId s, std::string_view bytes) override {
    if (!open.contains(s)) violated("send to a session that is not open");
    if (bytes.empty() || bytes.back() != '\n') violated("output not terminated by a newline");
    size_t start = 0;
    while (start < bytes.size()) {
      size_t nl = bytes.find('\n', start);
      if (nl - start > socketlock::kMaxLine + 200) violated("output line too long");
      start = nl + 1;
    }
  }
  void close(SessionId s) override {
    if (!open.contains(s)) violated("close of a session that is not open");
    open.erase(s);  // the server forgot it already
  }
};

void check(const socketlock::Server& server, const CheckingTransport& t, warren::TimePoint now) {
  if (server.sessions() != t.open.size()) violated("session count differs from the open sessions");
  const locks::Snapshot snap = server.lock().snapshot();
  size_t exclusive = 0;
  std::set<locks::Token> tokens;
  for (const auto& h : snap.holders) {
    if (h.mode == locks::Mode::Exclusive) ++exclusive;
    if (!t.open.contains(h.owner)) violated("a closed session holds the lock");
    if (h.token >= snap.next_token) violated("holder token not below next token");
    if (!tokens.insert(h.token).second) violated("token held twice");
    if (h.expires && *h.expires <= now) violated("expired lease still held");
  }
  if (exclusive > 0 && snap.holders.size() > 1) violated("exclusive holder alongside another holder");
  std::set<locks::OwnerId> waiting;
  if (snap.offer) {
    const auto& o = *snap.offer;
    if (!t.open.contains(o.owner)) violated("offer to a closed session");
    if (o.token >= snap.next_token || tokens.contains(o.token)) violated("offer token reused");
    if (o.mode == locks::Mode::Exclusive && !snap.holders.empty()) violated("exclusive offer while held");
    if (exclusive > 0) violated("offer while held exclusively");
    if (o.deadline <= now) violated("expired offer outstanding");
    waiting.insert(o.owner);
  }
  for (const auto& w : snap.waiters) {
    if (!t.open.contains(w.owner)) violated("a closed session waits");
    if (!waiting.insert(w.owner).second) violated("a session waits twice");
    if (w.deadline <= now) violated("expired request still queued");
  }
  if (auto d = server.next_deadline(); d && *d <= now) violated("deadline in the past after advance");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint8_t cfg = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);

  socketlock::ServerOptions opts;
  opts.lock.policy = static_cast<locks::Policy>(cfg % 3);
  opts.lock.request_timeout = 5s;
  opts.lock.confirm_timeout = 2s;
  opts.lock.max_ttl = (cfg & 0x04) ? warren::Duration::zero() : warren::Duration(60s);
  opts.hello_timeout = 3s;
  opts.max_line = (cfg & 0x08) ? 64 : socketlock::kMaxLine;

  CheckingTransport t;
  warren::TimePoint now = warren::TimePoint{} + 1h;
  socketlock::Server server(opts, (cfg & 0x10) ? (uint64_t{1} << 40) : 100, t);
  for (SessionId s = 1; s <= 3; ++s) {
    server.open(s, now);
    t.open.insert(s);
  }

  for (int chunks = 0; !in.empty() && chunks < 256; ++chunks) {
    size_t end = in.find('\0');
    std::string_view chunk = in.substr(0, end);
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
    if (chunk.size() < 2) continue;
    const uint8_t ctl = static_cast<uint8_t>(chunk[0]), dt = static_cast<uint8_t>(chunk[1]);
    chunk.remove_prefix(2);
    const SessionId s = ((ctl & 0x1f) + 2) % 3 + 1;

    if (dt == '~') {
      if (auto d = server.next_deadline()) now = std::max(now, *d);
    } else {
      now += static_cast<uint8_t>(dt - '0') * 100ms;
    }
    server.advance(now);
    check(server, t, now);

    if (ctl & 0x20) {
      if (t.open.contains(s)) {
        t.open.erase(s);
        server.closed(s, now);
      } else {
        t.open.insert(s);
        server.open(s, now);
      }
      check(server, t, now);
    }
    if (!chunk.empty()) {
      server.feed(s, chunk, now);
      server.advance(now);
      check(server, t, now);
    }
  }
  return 0;
}
