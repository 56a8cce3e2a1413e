// A Warren lock through warren-client: a mutex with a fencing token.
//
//   lock [amqp://guest:guest@localhost:5672/] [lock name]
//
// A lock is a queue of type `lock` (docs/locks.md). Consuming it with
// prefetch 1 asks for it; the grant is a delivery whose `x-fencing-token`
// header the resource checks on every write (it refuses a token lower than
// one it has seen); acking the delivery lets go, and so does any death of
// the connection. Warren only: RabbitMQ has no lock queues (see src/recipes
// for the recipes that work on any broker).
#include <cstdio>
#include <string>
#include <type_traits>
#include <variant>

#include "client/blocking.hpp"

using namespace warren::client;

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/";
  std::string name = argc > 2 ? argv[2] : "examples.lock";
  try {
    ConnectionOptions opts = options_from_uri(uri);
    opts.session.recover = false;  // a lost connection is a lost lock: say so, do not paper over it
    auto conn = Connection::open(opts);
    BlockingChannel ch(conn->channel());
    QueueSpec lock{.name = name};
    lock.arguments.set("x-queue-type", std::string("lock"));
    lock.arguments.set("x-lock-kind", std::string("mutex"));
    ch.queue_declare(lock);
    ch.qos(1);
    ch.consume({.queue = name});
    auto grant = ch.next_delivery(std::chrono::seconds(30));
    if (!grant) {
      std::fprintf(stderr, "lock: not granted within 30 s\n");
      return 1;
    }
    int64_t token = -1;
    if (auto& h = grant->message.properties.headers)
      if (auto* v = h->find("x-fencing-token"))
        std::visit([&](auto&& x) {
          if constexpr (std::is_integral_v<std::decay_t<decltype(x)>>) token = int64_t(x);
        }, v->variant());
    std::printf("holding %s with fencing token %lld\n", name.c_str(), (long long)token);
    // ... write to the resource, passing `token` along ...
    ch.ack(*grant);  // let go
    conn->close();
  } catch (const ClientError& e) {
    std::fprintf(stderr, "lock: %s\n", e.what());
    return 1;
  }
}
