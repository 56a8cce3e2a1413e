#pragma once
// What the socketlock client engine's tests share (client_engine_test.cpp,
// client_engine_dialect_test.cpp, client_engine_end_to_end_test.cpp): the
// client's options, the words of an output line, its events, and the
// fixture that drives one client engine by strings and a fake clock.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socketlock/client_engine.hpp"
#include "socketlock/protocol.hpp"

namespace warren::socketlock::test {

using namespace std::chrono_literals;
using Kind = ClientEvent::Kind;

inline socketlock::ClientOptions client_options(std::string id) {
  socketlock::ClientOptions o;
  o.client_id = std::move(id);
  o.hello_timeout = 2s;
  o.status_interval = 10s;
  o.heartbeat = 30s;
  return o;
}

// The words of one output line, without its newline.
inline std::vector<std::string> words(const std::string& line) {
  std::string_view l(line);
  if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
  std::vector<std::string> w;
  for (std::string_view x : socketlock::split_words(l)) w.emplace_back(x);
  return w;
}

inline std::vector<ClientEvent> events_of(ClientEngine& c) {
  std::vector<ClientEvent> ev;
  c.take_events(ev);
  return ev;
}

class ClientEngineTest : public ::testing::Test {
 protected:
  warren::TimePoint now = warren::TimePoint{} + 1h;
  ClientEngine c{client_options("a")};

  std::string take() { return std::exchange(c.output(), ""); }
  std::vector<ClientEvent> events() { return events_of(c); }
  void hear(const std::string& line) { c.feed(line + "\n", now); }
  void tick(warren::Duration d) {
    now += d;
    c.advance(now);
  }
  // Starts and answers HELLO in the seed dialect.
  void connect() {
    c.start(now);
    ASSERT_EQ(take(), "a HELLO\n");
    hear("a CONNECTED");
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Ready);
  }
  // Acquires `token` in the seed dialect, ends with the lock held.
  void hold(locks::Mode mode, std::optional<std::chrono::seconds> ttl, locks::Token token) {
    ASSERT_TRUE(c.acquire(mode, ttl, now));
    take();
    std::string t = std::to_string(token);
    hear(std::string("a ") + (mode == locks::Mode::Shared ? "READLOCK " : "WRITELOCK ") + t);
    ASSERT_EQ(take(), "a CONFIRM " + t + "\n");
    hear("a LOCKOK " + t);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Acquired);
    ASSERT_TRUE(c.holding());
  }
  // Falls back to the Go dialect and is assigned `id`.
  void connect_go(const std::string& id) {
    c.start(now);
    ASSERT_EQ(take(), "a HELLO\n");
    tick(2s);
    ASSERT_EQ(take(), "HELLO\n");
    hear("CONNECTED " + id);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Ready);
  }
};

}  // namespace warren::socketlock::test
