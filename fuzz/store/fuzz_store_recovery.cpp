// libFuzzer target for recovering a vhost from its log: arbitrary bytes as
// a data directory must not crash the broker. The input is up to four
// segment files of one vhost's log (recovery_input.hpp has the format) on
// a simulated disk. VHostStore::open must succeed on them (the disk has no
// faults: whatever is wrong in the files is damage, reported, never an
// error), and the broker must then work on what it recovered: a basic.get
// and a settlement on every queue, a persistent publish to it (a purge, a
// deletion, as the input says), that batch written, and a restart that
// recovers again. No crash, no leak, nothing ASan or UBSan objects to.
//
// FUZZ_STORE_TRACE=1 in the environment prints what each recovery found.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "amqp091/convert.hpp"
#include "amqp10/convert.hpp"
#include "broker/seeded_env.hpp"
#include "broker/vhost.hpp"
#include "recovery_input.hpp"
#include "store/segment.hpp"
#include "store/sim_io.hpp"
#include "store/vhost_store.hpp"

using namespace warren;
using namespace warren::store;

namespace {

const std::string kDir = "data/vhost";

bool trace() {
  static const bool on = std::getenv("FUZZ_STORE_TRACE") != nullptr;
  return on;
}

class Publisher final : public broker::Publisher {
 public:
  void outcomes_ready(std::span<const broker::Completion>) override {}
};

// A running broker's vhost and its store; destroyed store first (it
// stops listening to the vhost).
struct Node {
  broker::SeededEnv env{1};
  std::unique_ptr<broker::VHost> vhost;
  std::unique_ptr<VHostStore> store;
  Publisher publisher;
  broker::PublisherId publisher_id = 0;

  void open(SimIo& io, uint64_t segment_bytes, TimePoint now, int64_t wall_ms) {
    store.reset();
    vhost = std::make_unique<broker::VHost>("/", env, now);
    // The codecs a server passes: messages published over 0-9-1 and 1.0
    // come back with raw properties that only these decode.
    StoreOptions o{kDir, segment_bytes, {&amqp091::PropertyCodec::instance(), &amqp10::PropertyCodec::instance()}};
    RecoveryReport report;
    // A fault-free disk: any error is the store refusing its own directory.
    if (VHostStore::open(io, o, *vhost, Clocks{now, wall_ms}, store, &report) != 0) abort();
    if (trace()) {
      std::fprintf(stderr, "recovered %llu exchanges, %llu queues, %llu bindings, %llu messages\n",
                   (unsigned long long)report.exchanges, (unsigned long long)report.queues,
                   (unsigned long long)report.bindings, (unsigned long long)report.messages);
      for (const Damage& d : report.damage)
        std::fprintf(stderr, "  damage: %s at %llu (+%llu): %s\n", d.file.c_str(), (unsigned long long)d.offset,
                     (unsigned long long)d.length, d.what.c_str());
    }
    publisher_id = vhost->outcomes().add_publisher(publisher);
  }
  void close() {
    store.reset();
    vhost.reset();
  }
};

std::string header(uint64_t number) {
  std::string h("WRNLOG\x01\x00", 8);
  for (int b = 0; b < 8; ++b) h.push_back(char(number >> (8 * b)));
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<fuzz::SegmentFile> files;
  const uint8_t options = fuzz::parse_input(data, size, files);
  const uint64_t segment_bytes = fuzz::kSegmentBytes[(options >> 1) & 3];
  const auto outcome = broker::Outcome((options >> 3) & 3);

  SimIo io(1);
  for (const fuzz::SegmentFile& f : files) {
    const std::string name = fmt::format("{}/{:020}.wlog", kDir, f.number);
    io.set_contents(name, (options & fuzz::kAddHeader ? header(f.number) : std::string()) + f.contents);
  }

  TimePoint now = TimePoint{} + std::chrono::hours(1);
  int64_t wall_ms = 1'700'000'000'000;
  Node node;
  node.open(io, segment_bytes, now, wall_ms);

  // The broker at work on what came back. Names first: settling and
  // publishing may dead-letter, expire or delete.
  std::vector<std::string> names;
  for (const auto& [name, _] : node.vhost->queues()) names.push_back(name);
  uint64_t cookie = 0;
  for (const std::string& name : names) {
    broker::QueuePtr q = node.vhost->find_queue(name);
    if (!q) continue;
    auto d = q->get(false, now);
    if (d) {
      // What a front end does with a delivery: its properties and body.
      (void)d->message->properties();
      if (const broker::PropertyCodec* c = d->message->codec()) (void)c->plain_body(d->message->body());
    }
    broker::Properties p;
    p.delivery_mode = 2;
    broker::MessagePtr m = broker::Message::built("", name, std::move(p), std::make_shared<const std::string>("m"));
    broker::PublishResult r;
    (void)node.vhost->publish("", m, now, r, broker::PublishWaiter{node.publisher_id, ++cookie});
    uint64_t n = 0;
    if (options & fuzz::kPurge) (void)node.vhost->purge_queue(name, 0, now, n);  // keeps `d`, unacked
    if (d) q->settle(d->seq, outcome, now);
  }
  if ((options & fuzz::kDeleteFirst) && !names.empty()) {
    uint64_t n = 0;
    (void)node.vhost->delete_queue(names.front(), false, false, 0, now, n);
  }
  // Time passes: TTLs and x-expires run out, and their removals are logged.
  now += std::chrono::hours(2);
  wall_ms += 2 * 3600 * 1000;
  node.store->set_clock(Clocks{now, wall_ms});
  node.vhost->advance(now);

  Batch b;
  if (options & fuzz::kPowerLoss) {
    if (node.store->take_batch(b)) (void)node.store->log().write_unsynced(b);
    node.close();
    io.power_loss();
  } else {
    while (node.store->take_batch(b)) {
      const int err = node.store->log().write(b);
      if (err) abort();  // a fault-free disk
      node.store->batch_done(err);
    }
    node.close();
  }

  // What the first recovery left must recover too.
  node.open(io, segment_bytes, now, wall_ms);
  node.close();
  return 0;
}
