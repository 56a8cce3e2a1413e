#include "driver.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <semaphore>
#include <thread>

#include "payload.hpp"
#include "seq_tracker.hpp"

namespace warren::perf {
namespace {

std::atomic<bool> g_stop_requested{false};

// Connections open a few at a time: a thousand simultaneous handshakes make
// RabbitMQ reset some (its handshake timeout), and measure nothing useful.
std::counting_semaphore<> g_connecting(8);

template <class F>
auto connect_gated(F&& make) {
  g_connecting.acquire();
  try {
    auto client = make();
    g_connecting.release();
    return client;
  } catch (...) {
    g_connecting.release();
    throw;
  }
}

using std::chrono::milliseconds;

// Latencies go to a shared histogram in batches, so a thread takes the lock
// once per read rather than once per message.
class LatencyBatch {
 public:
  LatencyBatch(std::mutex& mu, Histogram& h) : mu_(mu), h_(h) { buf_.reserve(kCap); }
  void add(uint64_t ns) {
    buf_.push_back(ns);
    if (buf_.size() == kCap) flush();
  }
  void flush() {
    if (buf_.empty()) return;
    std::lock_guard lock(mu_);
    for (uint64_t v : buf_) h_.record(v);
    buf_.clear();
  }

 private:
  static constexpr size_t kCap = 8192;
  std::mutex& mu_;
  Histogram& h_;
  std::vector<uint64_t> buf_;
};

struct Shared {
  std::mutex mu;
  Histogram interval;  // since the last per-second line; the reporter drains it
};

struct ProducerState {
  Route route;
  int group = 0;  // for pattern queues: the queue index; else 0
  std::atomic<uint64_t> sent{0}, confirmed{0}, nacked{0}, returned{0};
  std::atomic<bool> ready{false}, done{false};
  uint64_t end_ns = 0;
  Shared confirms;
  std::string error;
};

struct ConsumerState {
  Source source;
  int group = 0;  // consumers of one group share a queue
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> last_ns{0};
  std::atomic<bool> ready{false}, done{false};
  Shared latency;
  SeqTracker tracker;  // the consumer thread's until it is joined
  uint64_t malformed = 0;
  std::string error;
};

struct Control {
  std::atomic<bool> go{false};
  std::atomic<bool> stop_producers{false};
  std::atomic<bool> stop_consumers{false};
  std::atomic<bool> failed{false};
  uint64_t t0 = 0;
};

void sleep_until_ns(uint64_t t) {
  timespec ts{.tv_sec = time_t(t / 1'000'000'000u), .tv_nsec = long(t % 1'000'000'000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

class ConfirmTracker final : public ConfirmSink {
 public:
  ConfirmTracker(ProducerState& st, int64_t window) : st_(st), batch_(st.confirms.mu, st.confirms.interval) {
    size_t n = 1;
    while (n < size_t(std::max<int64_t>(window, 1))) n <<= 1;
    sent_at_.assign(n, 0);
    mask_ = n - 1;
  }
  void sent(uint64_t tag, uint64_t at_ns) {
    sent_at_[tag & mask_] = at_ns;
    ++outstanding_;
    next_ = tag + 1;
  }
  uint64_t outstanding() const { return outstanding_; }
  void on_confirm(uint64_t tag, bool multiple, bool ack) override {
    uint64_t now = now_ns();
    if (multiple) {
      for (uint64_t t = low_; t <= tag && t < next_; ++t) settle(t, now, ack);
    } else if (tag >= low_ && tag < next_) {
      settle(tag, now, ack);
    }
    while (low_ < next_ && sent_at_[low_ & mask_] == 0) ++low_;
  }
  void on_return() override { st_.returned.fetch_add(1, std::memory_order_relaxed); }
  void flush() { batch_.flush(); }

 private:
  void settle(uint64_t tag, uint64_t now, bool ack) {
    uint64_t& at = sent_at_[tag & mask_];
    if (at == 0) return;
    batch_.add(now > at ? now - at : 0);
    at = 0;
    --outstanding_;
    (ack ? st_.confirmed : st_.nacked).fetch_add(1, std::memory_order_relaxed);
  }

  ProducerState& st_;
  LatencyBatch batch_;
  std::vector<uint64_t> sent_at_;  // by tag & mask_; 0: settled
  uint64_t mask_ = 0;
  uint64_t low_ = 1, next_ = 1;  // lowest unsettled tag, next tag to send
  uint64_t outstanding_ = 0;
};

void producer_main(int id, ProducerState& st, const Options& o, const ProtocolImpl& proto, Control& ctl) {
  try {
    auto pub = connect_gated([&] { return proto.make_publisher(o, st.route); });
    st.ready = true;
    ctl.go.wait(false);  // a thousand producers must not poll for the start
    if (ctl.stop_producers.load()) {
      st.done = true;
      pub->close();
      return;
    }
    ConfirmTracker confirms(st, o.confirms() ? o.confirm : 1);
    std::vector<uint8_t> body(o.body_size, 0);
    const uint64_t limit = o.producer_count ? o.producer_count : UINT64_MAX;
    const double interval = o.rate > 0 ? 1e9 / o.rate : 0;
    constexpr size_t kBatchBytes = 64 * 1024;
    uint64_t seq = 0;
    while (seq < limit && !ctl.stop_producers.load(std::memory_order_relaxed)) {
      uint64_t now = now_ns();
      uint64_t stamp_ns = now;
      if (interval > 0) {
        // Coordinated omission: a late message carries the time it should have gone.
        // Producers are spread over the interval rather than all sending at once.
        uint64_t due = ctl.t0 + uint64_t((double(seq) + double(id) / double(o.producers)) * interval);
        if (due > now) {
          if (pub->buffered_bytes()) pub->flush(confirms);
          pub->poll(milliseconds(0), confirms);
          confirms.flush();
          uint64_t left = due - now_ns();
          if (left > 2'000'000 && left < UINT64_MAX / 2) pub->poll(milliseconds(left / 1'000'000 - 1), confirms);
          sleep_until_ns(std::min(due, now_ns() + 200'000'000));  // wake at least every 200 ms to see a stop
          continue;
        }
        stamp_ns = due;
      }
      if (o.confirms() && confirms.outstanding() >= uint64_t(o.confirm)) {
        if (pub->buffered_bytes()) pub->flush(confirms);
        pub->poll(milliseconds(100), confirms);
        confirms.flush();
        continue;
      }
      write_stamp(body, Stamp{.sent_ns = stamp_ns, .producer = uint32_t(id), .seq = uint32_t(seq)});
      pub->publish(body);
      ++seq;
      if (o.confirms()) confirms.sent(seq, now);  // confirm latency counts from the actual send
      st.sent.store(seq, std::memory_order_relaxed);
      if (pub->buffered_bytes() >= kBatchBytes) {
        pub->flush(confirms);
        pub->poll(milliseconds(0), confirms);
      }
    }
    pub->flush(confirms);
    // Wait for the last confirms (at most 30 s).
    uint64_t give_up = now_ns() + 30'000'000'000u;
    while (o.confirms() && confirms.outstanding() > 0 && now_ns() < give_up && !ctl.stop_consumers.load())
      pub->poll(milliseconds(100), confirms);
    confirms.flush();
    st.end_ns = now_ns();
    st.done = true;
    pub->close();
  } catch (const std::exception& e) {
    st.error = e.what();
    st.end_ns = now_ns();
    st.done = true;
    st.ready = true;
    ctl.failed = true;
  }
}

class DeliveryCounter final : public DeliverySink {
 public:
  explicit DeliveryCounter(ConsumerState& st) : st_(st), batch_(st.latency.mu, st.latency.interval) {}
  void on_delivery(std::span<const uint8_t> head, uint64_t) override {
    uint64_t now = now_ns();
    Stamp s;
    if (!read_stamp(head, s)) {
      ++st_.malformed;
    } else {
      batch_.add(now > s.sent_ns ? now - s.sent_ns : 0);
      st_.tracker.record(s.producer, s.seq);
    }
    ++count_;
    st_.received.store(count_, std::memory_order_relaxed);
    st_.last_ns.store(now, std::memory_order_relaxed);
  }
  uint64_t count() const { return count_; }
  void flush() { batch_.flush(); }

 private:
  ConsumerState& st_;
  LatencyBatch batch_;
  uint64_t count_ = 0;
};

void consumer_main(ConsumerState& st, const Options& o, const ProtocolImpl& proto, Control& ctl) {
  try {
    auto con = connect_gated([&] { return proto.make_consumer(o, st.source); });
    st.ready = true;
    DeliveryCounter counter(st);
    const uint64_t limit = o.consumer_count ? o.consumer_count : UINT64_MAX;
    while (counter.count() < limit && !ctl.stop_consumers.load(std::memory_order_relaxed)) {
      con->poll(milliseconds(200), counter);
      counter.flush();
    }
    st.done = true;
    con->close();
  } catch (const std::exception& e) {
    st.error = e.what();
    st.ready = true;
    ctl.failed = true;
  }
  st.done = true;
}

double cpu_seconds(const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; }

std::string us(uint64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f", double(ns) / 1000.0);
  return b;
}

}  // namespace

void request_stop() { g_stop_requested = true; }

Results run(const Options& o, const ProtocolImpl& proto) {
  Results r;
  r.routing_key = o.routing_key;
  if (r.routing_key.empty()) r.routing_key = (o.exchange.empty() && !o.queue.empty()) ? o.queue : random_uuid();

  // Topology, as PerfTest lays it out.
  const int n_queues = o.queue_pattern_count();
  std::vector<std::pair<std::string, Route>> queue_binds;
  std::vector<ProducerState> producers(size_t(o.producers));
  std::vector<ConsumerState> consumers(size_t(o.consumers));
  int groups = 1;
  if (n_queues > 0) {
    groups = n_queues;
    for (int i = 0; i < n_queues; ++i) {
      std::string q = o.pattern_queue(i);
      queue_binds.push_back({q, Route{o.exchange, q, q}});
    }
    for (int i = 0; i < o.producers; ++i) {
      producers[size_t(i)].route = queue_binds[size_t(i % n_queues)].second;
      producers[size_t(i)].group = i % n_queues;
    }
    for (int i = 0; i < o.consumers; ++i) {
      consumers[size_t(i)].source = Source{queue_binds[size_t(i % n_queues)].first, {}};
      consumers[size_t(i)].group = i % n_queues;
    }
  } else {
    Route route{o.exchange, r.routing_key, o.queue};
    if (!o.queue.empty()) queue_binds.push_back({o.queue, route});
    for (auto& p : producers) p.route = route;
    for (int i = 0; i < o.consumers; ++i) {
      consumers[size_t(i)].source = Source{o.queue, route};
      consumers[size_t(i)].group = o.queue.empty() ? i : 0;  // a server-named queue each
    }
    if (o.queue.empty()) groups = std::max(o.consumers, 1);
  }
  // Which groups a producer's messages reach.
  auto reaches = [&](const ProducerState& p, int group) { return n_queues == 0 || p.group == group; };

  proto.setup(o, queue_binds);
  prctl(PR_SET_TIMERSLACK, 1UL);  // rate mode sleeps in microseconds

  Control ctl;
  std::vector<std::thread> threads;
  for (auto& c : consumers) threads.emplace_back(consumer_main, std::ref(c), std::cref(o), std::cref(proto), std::ref(ctl));
  for (auto& c : consumers)
    while (!c.ready.load() && !ctl.failed.load()) std::this_thread::sleep_for(milliseconds(1));
  for (int i = 0; i < o.producers; ++i)
    threads.emplace_back(producer_main, i, std::ref(producers[size_t(i)]), std::cref(o), std::cref(proto), std::ref(ctl));
  for (auto& p : producers)
    while (!p.ready.load() && !ctl.failed.load()) std::this_thread::sleep_for(milliseconds(1));

  rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  ctl.t0 = now_ns();
  if (ctl.failed.load()) ctl.stop_producers = true;
  ctl.go = true;
  ctl.go.notify_all();

  Histogram interval_latency, interval_confirms;
  uint64_t last_sent = 0, last_confirmed = 0, last_received = 0;
  uint64_t last_tick = ctl.t0, producers_done_at = 0, last_progress_at = 0, last_total_received = 0;
  const uint64_t deadline = o.seconds > 0 ? ctl.t0 + uint64_t(o.seconds * 1e9) : UINT64_MAX;
  int tick = 0;
  for (;;) {
    std::this_thread::sleep_for(milliseconds(20));
    uint64_t now = now_ns();
    bool stop = g_stop_requested.load() || ctl.failed.load() || now >= deadline;

    uint64_t sent = 0, confirmed = 0, received = 0;
    bool all_producers_done = true, all_consumers_done = !consumers.empty();
    for (auto& p : producers) {
      sent += p.sent.load();
      confirmed += p.confirmed.load();
      all_producers_done = all_producers_done && p.done.load();
    }
    for (auto& c : consumers) {
      received += c.received.load();
      all_consumers_done = all_consumers_done && c.done.load();
    }
    if (all_producers_done && producers_done_at == 0) producers_done_at = now;
    if (received != last_total_received || last_progress_at == 0) {
      last_total_received = received;
      last_progress_at = now;
    }
    // A bounded run (-C/-D) ends when every queue got what its producers sent
    // (or every consumer its -D), or 3 s after deliveries stopped coming.
    bool bounded = o.producer_count > 0 || o.consumer_count > 0;
    if (bounded && all_consumers_done) stop = true;
    if (bounded && o.producer_count > 0 && all_producers_done) {
      bool complete = true;
      for (int g = 0; g < groups && complete; ++g) {
        uint64_t expected = 0, got = 0;
        bool has_consumer = false;
        for (auto& p : producers)
          if (reaches(p, g)) expected += p.sent.load();
        for (auto& c : consumers)
          if (c.group == g) {
            got += c.received.load();
            has_consumer = true;
          }
        if (has_consumer && got < expected) complete = false;
      }
      if (complete || consumers.empty() || now - last_progress_at > 3'000'000'000u) stop = true;
    }
    if (!bounded && o.seconds <= 0 && o.producers == 0 && o.consumers == 0) stop = true;

    if (now - last_tick >= 1'000'000'000u || stop) {
      interval_latency.reset();
      interval_confirms.reset();
      for (auto& c : consumers) {
        std::lock_guard lock(c.latency.mu);
        interval_latency.merge(c.latency.interval);
        r.latency.merge(c.latency.interval);
        c.latency.interval.reset();
      }
      for (auto& p : producers) {
        std::lock_guard lock(p.confirms.mu);
        interval_confirms.merge(p.confirms.interval);
        r.confirm_latency.merge(p.confirms.interval);
        p.confirms.interval.reset();
      }
      double dt = double(now - last_tick) / 1e9;
      if (dt >= 0.05) {
        ++tick;
        std::fprintf(stderr,
                     "time %.1f s, sent %.0f msg/s, confirmed %.0f msg/s, received %.0f msg/s, "
                     "consumer latency p50/p99 %s/%s µs\n",
                     double(now - ctl.t0) / 1e9, double(sent - last_sent) / dt,
                     double(confirmed - last_confirmed) / dt, double(received - last_received) / dt,
                     us(interval_latency.percentile(50)).c_str(), us(interval_latency.percentile(99)).c_str());
      }
      last_tick = now;
      last_sent = sent;
      last_confirmed = confirmed;
      last_received = received;
    }
    if (stop) break;
  }
  ctl.stop_producers = true;
  // Producers finish their confirms before consumers stop (unless the run failed or was cut).
  for (auto& p : producers)
    while (!p.done.load() && !ctl.failed.load() && p.ready.load()) std::this_thread::sleep_for(milliseconds(5));
  ctl.stop_consumers = true;
  uint64_t t_end = now_ns();
  rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  for (auto& t : threads) t.join();

  r.seconds = double(t_end - ctl.t0) / 1e9;
  r.cpu_user = cpu_seconds(ru1.ru_utime) - cpu_seconds(ru0.ru_utime);
  r.cpu_system = cpu_seconds(ru1.ru_stime) - cpu_seconds(ru0.ru_stime);
  uint64_t send_end = 0, recv_end = 0;
  for (auto& p : producers) {
    r.sent += p.sent;
    r.confirmed += p.confirmed;
    r.nacked += p.nacked;
    r.returned += p.returned;
    send_end = std::max(send_end, p.end_ns ? p.end_ns : t_end);
    std::lock_guard lock(p.confirms.mu);
    r.confirm_latency.merge(p.confirms.interval);
    if (!p.error.empty()) r.errors.push_back("producer: " + p.error);
  }
  for (auto& c : consumers) {
    r.received += c.received;
    recv_end = std::max(recv_end, c.last_ns.load());
    std::lock_guard lock(c.latency.mu);
    r.latency.merge(c.latency.interval);
    if (!c.error.empty()) r.errors.push_back("consumer: " + c.error);
  }
  // A timed run's rates are over its duration; a counted run's up to its last message.
  const bool timed = o.seconds > 0 && o.producer_count == 0 && o.consumer_count == 0;
  r.send_seconds = timed ? std::min(r.seconds, o.seconds) : double(send_end - ctl.t0) / 1e9;
  r.receive_seconds = timed ? std::min(r.seconds, o.seconds) : double((recv_end ? recv_end : t_end) - ctl.t0) / 1e9;

  if (o.producer_count > 0 && !consumers.empty() && r.errors.empty()) {
    r.verified = true;
    for (int g = 0; g < groups; ++g) {
      SeqTracker merged;
      bool has_consumer = false;
      for (auto& c : consumers)
        if (c.group == g) {
          merged.merge(c.tracker);
          has_consumer = true;
        }
      if (!has_consumer) continue;
      r.duplicated += merged.duplicates();
      for (size_t p = 0; p < producers.size(); ++p) {
        if (!reaches(producers[p], g)) continue;
        uint64_t published = producers[p].sent;
        r.lost += merged.lost(uint32_t(p), published);
        r.duplicated += merged.unexpected(uint32_t(p), published);  // sequence numbers nobody sent
      }
    }
  }
  return r;
}

std::string random_uuid() {
  uint8_t b[16];
  FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f || std::fread(b, 1, sizeof b, f) != sizeof b) {
    uint64_t t = now_ns();
    for (int i = 0; i < 16; ++i) b[i] = uint8_t(t >> (i % 8 * 8)) ^ uint8_t(i * 37);
  }
  if (f) std::fclose(f);
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace warren::perf
