// Publishing with publisher confirms through warren-client.
//
//   publish_confirms [amqp://guest:guest@localhost:5672/] [messages]
//
// Each publish ends exactly once: acked (the broker has it: for a
// persistent message in a durable queue, on disk), nacked, returned
// (mandatory and unroutable) or unknown (the connection died first; the
// message may or may not have arrived: publish it again if duplicates are
// acceptable). The connection recovers by itself; publishes made while it
// is recovering throw ClientError and send nothing.
#include <atomic>
#include <cstdio>
#include <string>

#include "client/blocking.hpp"

using namespace warren::client;

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "amqp://guest:guest@localhost:5672/";
  int messages = argc > 2 ? std::stoi(argv[2]) : 1000;
  try {
    auto conn = Connection::open(uri);
    BlockingChannel ch(conn->channel());
    ch.queue_declare({.name = "examples.jobs", .durable = true});
    ch.confirm_select();

    BasicProperties persistent;
    persistent.delivery_mode = 2;

    // One at a time: simple, one round trip per message.
    Outcome o = ch.publish({.exchange = "", .routing_key = "examples.jobs", .body = "first", .properties = &persistent});
    std::printf("first: %s\n", std::string(outcome_name(o)).c_str());

    // Pipelined: the callback runs on the connection's I/O thread.
    std::atomic<int> acked{0}, other{0};
    for (int i = 0; i < messages; ++i) {
      std::string body = "job " + std::to_string(i);
      ch.channel().publish({.exchange = "", .routing_key = "examples.jobs", .body = body, .properties = &persistent},
                           [&](Outcome r) { (r == Outcome::Acked ? acked : other)++; });
    }
    // A last blocking publish: confirms come in order, so after it, all have.
    ch.publish({.exchange = "", .routing_key = "examples.jobs", .body = "last", .properties = &persistent});
    std::printf("%d acked, %d not\n", acked.load(), other.load());

    // Mandatory and unroutable: returned.
    o = ch.publish({.exchange = "", .routing_key = "no.such.queue", .body = "lost?", .mandatory = true});
    std::printf("unroutable: %s\n", std::string(outcome_name(o)).c_str());
    conn->close();
  } catch (const ClientError& e) {
    std::fprintf(stderr, "publish_confirms: %s\n", e.what());
    return 1;
  }
}
