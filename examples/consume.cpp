// A consumer with manual acks, through recoveries.
//
//   consume [amqp://guest:guest@localhost:5672/] [queue] [seconds]
//
// After a recovery the broker redelivers what was unacked (redelivered
// set); an ack of a delivery from before the recovery is not sent
// (Channel::ack returns false): at-least-once, never an ack of the wrong
// message.
#include <chrono>
#include <cstdio>
#include <string>

#include "client/blocking.hpp"

using namespace warren::client;

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/";
  std::string queue = argc > 2 ? argv[2] : "examples.jobs";
  int seconds = argc > 3 ? std::stoi(argv[3]) : 2;
  try {
    ConnectionOptions opts = options_from_uri(uri);
    opts.events.lost = [](const Error& e) { std::fprintf(stderr, "connection lost: %s\n", e.text.c_str()); };
    opts.events.opened = [](uint64_t epoch) { std::fprintf(stderr, "connection open, epoch %llu\n", (unsigned long long)epoch); };
    auto conn = Connection::open(opts);
    BlockingChannel ch(conn->channel());
    ch.queue_declare({.name = queue, .durable = true});
    ch.qos(100);
    ch.consume({.queue = queue});
    int n = 0;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      auto d = ch.next_delivery(std::chrono::milliseconds(200));
      if (!d) continue;
      ++n;
      if (!ch.ack(*d)) std::fprintf(stderr, "delivery %llu is from an earlier epoch: it comes again\n",
                                    (unsigned long long)d->delivery_tag);
    }
    std::printf("consumed %d from %s\n", n, queue.c_str());
    conn->close();
  } catch (const ClientError& e) {
    std::fprintf(stderr, "consume: %s\n", e.what());
    return 1;
  }
}
