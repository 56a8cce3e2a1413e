// Several threads publishing through a pool of confirm-mode channels
// (NServiceBus's pattern, without its bug: docs/client.md).
//
//   pooled_publishers [amqp://guest:guest@localhost:5672/] [threads] [messages each]
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "client/blocking.hpp"
#include "client/pool.hpp"

using namespace warren::client;

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/";
  int threads = argc > 2 ? std::stoi(argv[2]) : 4;
  int each = argc > 3 ? std::stoi(argv[3]) : 1000;
  try {
    auto conn = Connection::open(uri);
    BlockingChannel(conn->channel()).queue_declare({.name = "examples.pooled"});
    ChannelPool pool(*conn, size_t(threads));
    std::vector<std::thread> ts;
    std::vector<int> acked(static_cast<size_t>(threads), 0);
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < each; ++i) {
          try {
            auto lease = pool.get();
            BlockingChannel ch(lease.shared());  // pooled channels are in confirm mode
            if (ch.publish({.exchange = "", .routing_key = "examples.pooled", .body = "hello"}) == Outcome::Acked)
              ++acked[size_t(t)];
          } catch (const ClientError& e) {
            std::fprintf(stderr, "thread %d: %s\n", t, e.what());  // recovering: try the next one
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    int total = 0;
    for (int a : acked) total += a;
    std::printf("%d of %d acked\n", total, threads * each);
  } catch (const ClientError& e) {
    std::fprintf(stderr, "pooled_publishers: %s\n", e.what());
    return 1;
  }
}
