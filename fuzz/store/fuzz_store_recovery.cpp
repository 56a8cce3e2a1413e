// libFuzzer target for recovering a vhost from its log: arbitrary bytes as
// a data directory must not crash the broker. The input is up to eight
// files of one vhost's log (recovery_input.hpp has the format) on a
// simulated disk: segments, and indexes beside them, built from a segment
// as warrend writes them (whole, stale, beside the wrong segment, damaged,
// torn) or arbitrary, so that recovery's choice between a sealed
// segment's index and the segment itself is exercised end to end.
// VHostStore::open must succeed on them (the disk has no faults: whatever
// is wrong in the files is damage, reported, never an error), and the
// broker must then work on what it recovered: a basic.get and a
// settlement on every queue, a persistent publish to it (a purge, a
// deletion, as the input says), that batch written, and a restart that
// recovers again. No crash, no leak, nothing ASan or UBSan objects to.
// When the input's indexes are all as warrend writes them, recovery with
// them must give what recovery from the segments alone gives.
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
#include "store/bytes.hpp"
#include "store/log.hpp"
#include "store/segment.hpp"
#include "store/segment_index.hpp"
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
  RecoveryReport report;

  void open(SimIo& io, uint64_t segment_bytes, TimePoint now, int64_t wall_ms) {
    store.reset();
    vhost = std::make_unique<broker::VHost>("/", env, now);
    // The codecs a server passes: messages published over 0-9-1 and 1.0
    // come back with raw properties that only these decode.
    StoreOptions o{kDir, segment_bytes, {&amqp091::PropertyCodec::instance(), &amqp10::PropertyCodec::instance()}};
    report = {};
    // A fault-free disk: any error is the store refusing its own directory.
    if (VHostStore::open(io, o, *vhost, Clocks{now, wall_ms}, store, &report) != 0) abort();
    if (trace()) {
      std::fprintf(stderr, "recovered %llu exchanges, %llu queues, %llu bindings, %llu messages\n",
                   (unsigned long long)report.exchanges, (unsigned long long)report.queues,
                   (unsigned long long)report.bindings, (unsigned long long)report.messages);
      for (const Damage& d : report.damage)
        std::fprintf(stderr, "  damage: %s at %llu (+%llu): %s\n", d.file.c_str(), (unsigned long long)d.offset,
                     (unsigned long long)d.length, d.what.c_str());
      std::fprintf(stderr, "  sealed segments: %llu from their index, %llu read whole (%llu without one)\n",
                   (unsigned long long)report.segments_indexed, (unsigned long long)report.segments_read,
                   (unsigned long long)report.indexes_missing);
      for (const IndexNote& n : report.index_notes)
        std::fprintf(stderr, "  index: %s: %s\n", n.file.c_str(), n.what.c_str());
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

// What a recovered vhost holds that its log decides.
std::string recovered(const Node& n) {
  const RecoveryReport& r = n.report;
  std::string out = fmt::format("{} exchanges, {} queues, {} bindings, {} messages, {} damaged\n", r.exchanges,
                                r.queues, r.bindings, r.messages, r.damage.size());
  for (const auto& [name, x] : n.vhost->exchanges())
    out += fmt::format("exchange '{}': {} bindings\n", name, x->bindings().size());
  for (const auto& [name, q] : n.vhost->queues()) {
    out += fmt::format("queue '{}'\n", name);
    q->for_each_entry([&](const broker::Queue::EntryView& e) {
      out += fmt::format("  {} at {}:{} expires {} size {}: '{}'\n", e.seq, e.at.segment, e.at.offset,
                         e.expires.time_since_epoch().count(), e.size, e.msg ? e.msg->body_view() : "(paged)");
    });
  }
  return out;
}

// Whether every index of the input is one warrend writes: built whole
// from its segment, which is a segment with no damage.
bool indexes_as_written(const std::vector<fuzz::InputFile>& files,
                        const std::vector<std::pair<uint64_t, std::string>>& segments) {
  bool any = false;
  for (const fuzz::InputFile& f : files) {
    if (!f.index) continue;
    const uint8_t how = f.contents.empty() ? 0 : uint8_t(f.contents[0]);
    if (how != fuzz::kBuilt) return false;
    const std::string* segment = nullptr;
    for (const auto& s : segments)
      if (s.first == f.number) segment = &s.second;
    if (!segment) continue;
    bool high_type = false;
    const ScanResult r = scan_segment_bytes(byte_span(*segment), [&](uint64_t, uint8_t type, std::span<const uint8_t>) {
      high_type = high_type || type >= kSummarized;
    });
    if (r.error || !r.damaged.empty() || (r.tail_bytes && !r.zero_tail) || high_type) return false;
    any = true;
  }
  return any;
}

// Recovery from indexes warrend wrote is recovery from their segments:
// the same definitions, queues, entries, places and bodies.
void check_indexes_change_nothing(const SimIo& io, uint64_t segment_bytes, TimePoint now, int64_t wall_ms) {
  SimIo with(1), without(1);
  io.copy_dir(kDir, with);
  io.copy_dir(kDir, without, [](const std::string& name) {
    uint64_t k;
    return !index_number(name, k);
  });
  Node a, b;
  a.open(with, segment_bytes, now, wall_ms);
  b.open(without, segment_bytes, now, wall_ms);
  const std::string from_indexes = recovered(a), from_segments = recovered(b);
  if (from_indexes != from_segments) {
    std::fprintf(stderr, "recovered from indexes:\n%s\nfrom segments:\n%s", from_indexes.c_str(),
                 from_segments.c_str());
    abort();
  }
  a.close();
  b.close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<fuzz::InputFile> files;
  const uint8_t options = fuzz::parse_input(data, size, files);
  const uint64_t segment_bytes = fuzz::kSegmentBytes[(options >> 1) & 3];
  const auto outcome = broker::Outcome((options >> 3) & 3);

  SimIo io(1);
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (const fuzz::InputFile& f : files) {
    if (f.index) continue;
    segments.emplace_back(f.number, (options & fuzz::kAddHeader ? header(f.number) : std::string()) + f.contents);
    io.set_contents(segment_path(kDir, f.number), segments.back().second);
  }
  for (const fuzz::InputFile& f : files)
    if (f.index) io.set_contents(index_path(kDir, f.number), fuzz::index_file(f, segments));

  TimePoint now = TimePoint{} + std::chrono::hours(1);
  int64_t wall_ms = 1'700'000'000'000;
  if (indexes_as_written(files, segments)) check_indexes_change_nothing(io, segment_bytes, now, wall_ms);
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
