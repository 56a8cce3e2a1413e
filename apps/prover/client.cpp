#include "client.hpp"

#include <time.h>

#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "history.hpp"
#include "recipes/amqp_conn.hpp"
#include "recipes/lock_client.hpp"
#include "socketlock/client.hpp"

namespace warren::prover {

int64_t monotonic_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

namespace {

// socketlock as a LockClient: its client library, connecting (never
// becoming the primary: warrend serves the path) on first use.
class SocketlockClient : public recipes::LockClient {
 public:
  explicit SocketlockClient(std::string path, int heartbeat_s) : path_(std::move(path)), heartbeat_s_(heartbeat_s) {}
  std::optional<recipes::Held> acquire(std::chrono::milliseconds timeout) override {
    try {
      if (!client_) {
        socketlock::LockConfig cfg;
        cfg.may_become_primary = false;
        cfg.heartbeat = std::chrono::seconds(heartbeat_s_);
        cfg.connect_timeout = std::chrono::seconds(5);
        client_ = socketlock::Client::connect(path_, cfg);
      }
      socketlock::AcquireOptions o;
      o.timeout = timeout;
      lock_ = client_->acquire_write(o);
      return recipes::Held{lock_.token()};
    } catch (const socketlock::LockLost& e) {
      throw recipes::Error(e.what());
    } catch (const socketlock::Error& e) {
      if (e.reason().find("timeout") != std::string::npos) return std::nullopt;
      client_.reset();
      throw recipes::Error(e.what());
    }
  }
  bool verify() override { return lock_.valid(); }
  void release() override {
    try {
      lock_.release();
    } catch (const socketlock::Error& e) {
      client_.reset();
      throw recipes::Error(e.what());
    }
  }
  void disconnect() override {
    lock_ = socketlock::Lock();
    client_.reset();
  }

 private:
  std::string path_;
  int heartbeat_s_;
  std::unique_ptr<socketlock::Client> client_;
  socketlock::Lock lock_;
};

class Session {
 public:
  explicit Session(const ClientOptions& o) : o_(o) {}

  void emit(Type type, Fn f, uint64_t value = 0, std::string detail = {}, uint32_t permit = 0) {
    Op op{monotonic_us() - o_.epoch_us, o_.id, type, f, value, std::move(detail), permit};
    std::cout << "op " << to_json_line(op) << std::endl;
  }
  // The ledger's answer; false: refused (a higher token wrote first).
  bool write(uint64_t token, uint32_t permit, const char* what) {
    std::cout << "write " << token << ' ' << permit << ' ' << what << std::endl;
    std::string answer;
    if (!std::getline(std::cin, answer)) std::exit(0);  // the prover is gone
    return answer == "ok";
  }

 private:
  const ClientOptions& o_;
};

}  // namespace

int run_client(const ClientOptions& o) {
  std::ios::sync_with_stdio(false);
  Session s(o);
  std::unique_ptr<recipes::LockClient> lock;
  if (o.target == "socketlock") {
    lock = std::make_unique<SocketlockClient>(o.socketlock_path, o.heartbeat_s);
  } else {
    recipes::Endpoint ep;
    ep.host = o.host;
    ep.port = o.port;
    ep.heartbeat_s = o.heartbeat_s;
    recipes::Options ro;
    ro.permits = o.permits;
    ro.fence = !o.no_fence;
    lock = recipes::make_lock_client(o.target, ep, o.lock, ro);
  }
  std::mt19937_64 rng(o.seed * 7919 + uint64_t(o.id));
  std::uniform_int_distribution<int> jitter(0, int(o.hold.count()));
  for (;;) {
    s.emit(Type::Invoke, Fn::Acquire);
    std::optional<recipes::Held> held;
    try {
      held = lock->acquire(o.acquire_timeout);
    } catch (const std::exception& e) {
      s.emit(Type::Info, Fn::Acquire, 0, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!held) {
      s.emit(Type::Fail, Fn::Acquire, 0, "timeout");
      continue;
    }
    s.emit(Type::Ok, Fn::Acquire, held->token, {}, held->permit);
    // A holder writes only while the resource accepts its token (for its
    // permit slot, on a semaphore).
    const uint64_t shown = o.unfenced ? 0 : held->token;
    const uint32_t slot = o.unfenced ? 0 : held->permit;
    if (s.write(shown, slot, "begin")) {
      std::this_thread::sleep_for(o.hold + std::chrono::milliseconds(jitter(rng)));
      s.write(shown, slot, "end");
    }
    s.emit(Type::Invoke, Fn::Release);
    try {
      lock->release();
      s.emit(Type::Ok, Fn::Release);
    } catch (const std::exception& e) {
      s.emit(Type::Info, Fn::Release, 0, e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng) / 4));
  }
}

}  // namespace warren::prover

namespace warren::prover {

// The queue workload: producers publish persistent messages, each with a
// unique id as its body, into a durable queue with confirms (ok: confirmed,
// info: the connection died first, so it may or may not be there);
// consumers record each delivery, then ack it. The prover drains what is
// left at the end; every confirmed id must have come out.
int run_queue_client(const ClientOptions& o) {
  std::ios::sync_with_stdio(false);
  Session s(o);
  recipes::Endpoint ep;
  ep.host = o.host;
  ep.port = o.port;
  ep.heartbeat_s = o.heartbeat_s;
  const std::string queue = o.lock + "-queue";
  // Unique across restarts of this client: its id, then the time it started.
  uint64_t next_id = (uint64_t(o.id) << 56) | ((uint64_t(monotonic_us()) & ((1ull << 36) - 1)) << 20);
  using Clock = std::chrono::steady_clock;
  auto idle_since = Clock::now();
  for (;;) {
    try {
      recipes::amqp::Connection c(ep, std::chrono::seconds(5));
      const uint16_t ch = c.open_channel();
      recipes::amqp::QueueOpts qo;
      qo.durable = true;
      if (!c.declare(ch, queue, qo).status.ok()) throw recipes::Error("declare failed");
      if (o.role == "producer") {
        c.confirm_select(ch);
        for (;;) {
          const uint64_t id = next_id++;
          s.emit(Type::Invoke, Fn::Enqueue, id);
          recipes::amqp::PublishOpts po;
          po.persistent = true;
          const uint64_t seq = c.publish(ch, queue, std::to_string(id), po);
          auto v = c.wait_confirm(ch, seq);
          if (!v) throw recipes::Error("channel closed");
          s.emit(*v == recipes::amqp::Verdict::Acked ? Type::Ok : Type::Fail, Fn::Enqueue, id);
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      c.qos(ch, 10);
      std::string tag;
      c.consume(ch, queue, false, false, {}, &tag);
      for (;;) {
        auto d = c.next_delivery(ch, Clock::now() + std::chrono::milliseconds(500));
        if (!d) {
          if (o.role == "drain" && Clock::now() - idle_since > std::chrono::seconds(3)) return 0;
          continue;
        }
        idle_since = Clock::now();
        s.emit(Type::Ok, Fn::Dequeue, std::strtoull(d->body.c_str(), nullptr, 10), d->redelivered ? "redelivered" : "");
        c.ack(ch, d->tag);
      }
    } catch (const std::exception& e) {
      s.emit(Type::Info, o.role == "producer" ? Fn::Enqueue : Fn::Dequeue, 0, e.what());
      if (o.role == "drain" && Clock::now() - idle_since > std::chrono::seconds(30)) return 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace warren::prover
