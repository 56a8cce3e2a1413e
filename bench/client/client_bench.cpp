// Publishing with confirms (a window of N in flight) and consuming through
// src/client, against a broker at a URI. bench/client/run.py compares it
// with rabbitmq-c's batched path and amqp091-go.
//
//   client_bench amqp://guest:guest@127.0.0.1:5672/ --messages 200000 --size 16 --window 256
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <sys/resource.h>

#include "client/blocking.hpp"

using namespace warren::client;
using Clock = std::chrono::steady_clock;

// User + system CPU seconds of this process (all threads) so far.
static double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_bench URI [--messages N] [--size B] [--window W] [--durable] [--publish-only]\n");
    return 2;
  }
  std::string uri = argv[1];
  size_t messages = 200000, size = 16, window = 256;
  bool durable = false, publish_only = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--durable")) {
      durable = true;
    } else if (!std::strcmp(argv[i], "--publish-only")) {  // for profiling the publish phase alone
      publish_only = true;
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--messages")) {
      messages = std::stoul(argv[++i]);
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--size")) {
      size = std::stoul(argv[++i]);
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--window")) {
      window = std::stoul(argv[++i]);
    } else {
      std::fprintf(stderr, "client_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  auto conn = Connection::open(uri);
  BlockingChannel ch(conn->channel());
  std::string q = ch.queue_declare({.name = durable ? "client-bench-durable" : "client-bench", .durable = durable}).name;
  ch.queue_purge(q);
  ch.confirm_select();
  std::string body(size, 'x');
  BasicProperties props;
  if (durable) props.delivery_mode = 2;

  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0, acked = 0, other = 0;
  double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  for (size_t i = 0; i < messages; ++i) {
    {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return in_flight < window; });
      ++in_flight;
    }
    ch.channel().publish({.exchange = "", .routing_key = q, .body = body, .properties = &props}, [&](Outcome o) {
      std::lock_guard l(mu);
      --in_flight;
      (o == Outcome::Acked ? acked : other)++;
      cv.notify_one();
    });
  }
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return in_flight == 0; });
  }
  double pub_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("publish: %zu messages of %zu B, window %zu: %.0f msg/s (%zu acked, %zu not)\n", messages, size, window,
              messages / pub_s, acked, other);
  // The client's CPU per message while publishing (bench/client/run.py).
  double pub_cpu = cpu_seconds() - cpu0;
  std::printf("publish cpu: %.3f s, %.2f us/msg\n", pub_cpu, pub_cpu * 1e6 / double(messages));
  std::fflush(stdout);
  if (publish_only) {
    conn->close();
    return 0;
  }

  std::atomic<size_t> got{0};
  std::mutex dmu;
  std::condition_variable dcv;
  auto c = conn->channel();
  BlockingChannel(c).qos(1000);
  t0 = Clock::now();
  ConsumerEvents ev;
  ev.delivery = [&](Delivery&& d) {
    c->ack(d);
    if (++got == messages) dcv.notify_one();
  };
  c->consume({.queue = q}, ev, nullptr);
  {
    std::unique_lock l(dmu);
    dcv.wait_for(l, std::chrono::seconds(60), [&] { return got.load() >= messages; });
  }
  double con_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("consume: %zu messages: %.0f msg/s\n", got.load(), got / con_s);
  conn->close();
}
