// Writes the seed corpus of fuzz_store_recovery: a few valid logs, made by
// a vhost and its store on a simulated disk, in the fuzzer's input format
// (recovery_input.hpp). Between them they hold every record type, and
// sealed segments' indexes: as written, and stale, misplaced, damaged,
// torn, stray and made of arbitrary entries.
//
//   make_store_corpus fuzz/corpus/fuzz_store_recovery
//
// Built by the fuzz sub-build beside the fuzzers; the seeds are committed.
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amqp091/convert.hpp"
#include "amqp091/properties.hpp"
#include "broker/seeded_env.hpp"
#include "broker/vhost.hpp"
#include "recovery_input.hpp"
#include "store/segment.hpp"
#include "store/segment_index.hpp"
#include "store/sim_io.hpp"
#include "store/vhost_store.hpp"

using namespace warren;
using namespace warren::store;

namespace {

const std::string kDir = "data/vhost";

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "make_store_corpus: %s\n", what);
    std::exit(1);
  }
}

// A vhost and its store, driven inline as StoreHarness drives them (that
// one needs gtest, which the fuzz build does not have).
class Writer {
 public:
  explicit Writer(uint64_t segment_bytes) : segment_bytes_(segment_bytes) { open(); }

  void open() {
    store.reset();
    vhost = std::make_unique<broker::VHost>("/", env_, now);
    StoreOptions o{kDir, segment_bytes_, {&amqp091::PropertyCodec::instance()}};
    check(VHostStore::open(io, o, *vhost, Clocks{now, 1'700'000'000'000}, store) == 0, "open");
  }
  void flush() {
    Batch b;
    while (store->take_batch(b)) {
      const int err = store->log().write(b);
      store->batch_done(err);
      check(err == 0, "write");
    }
  }
  void restart() {
    store.reset();
    vhost.reset();
    open();
  }

  void queue(const std::string& name, broker::Table args = {}) {
    broker::QueueDeclare d;
    d.name = name;
    d.durable = true;
    d.arguments = std::move(args);
    broker::QueueDeclareOk ok;
    check(!vhost->declare_queue(d, now, ok), "declare_queue");
  }
  void exchange(const std::string& name, const std::string& type, broker::Table args = {}) {
    check(!vhost->declare_exchange({name, type, false, true, false, false, std::move(args)}), "declare_exchange");
  }
  void publish(const std::string& exchange, const std::string& key, const std::string& body,
               broker::Properties p = {}) {
    p.delivery_mode = 2;
    publish(exchange, broker::Message::built(exchange, key, std::move(p), std::make_shared<const std::string>(body)));
  }
  void publish(const std::string& exchange, const broker::MessagePtr& m) {
    broker::PublishResult r;
    check(!vhost->publish(exchange, m, now, r), "publish");
  }
  // Takes the head of `name` and settles it so.
  void take(const std::string& name, broker::Outcome outcome) {
    broker::QueuePtr q = vhost->find_queue(name);
    auto d = q->get(false, now);
    check(bool(d), "get");
    q->settle(d->seq, outcome, now);
  }
  uint64_t get_unsettled(const std::string& name) {
    auto d = vhost->find_queue(name)->get(false, now);
    check(bool(d), "get");
    return d->seq;
  }

  // Every segment file in the log directory, in the input format: with
  // `strip`, their headers left to the fuzzer (options bit 0). Each index
  // beside them as built from its segment (checked to be the very index
  // the store wrote), or as `index_spec` says for segment number `n`.
  std::string dump(uint8_t options, const std::function<std::string(uint64_t n)>& index_spec = {}) {
    std::vector<std::string> names;
    check(io.list(kDir, names) == 0, "list");
    std::vector<fuzz::InputFile> files;
    std::vector<std::pair<uint64_t, std::string>> segments;  // as on the disk
    for (const std::string& n : names) {
      if (!n.ends_with(".wlog")) continue;
      fuzz::InputFile f;
      std::from_chars(n.data(), n.data() + 20, f.number);
      f.contents = io.contents(kDir + "/" + n);
      segments.emplace_back(f.number, f.contents);
      if (options & fuzz::kAddHeader) {
        check(f.contents.size() >= kSegmentHeaderSize, "short segment");
        f.contents.erase(0, kSegmentHeaderSize);
      }
      files.push_back(std::move(f));
    }
    for (const std::string& n : names) {
      fuzz::InputFile f;
      if (!index_number(n, f.number)) continue;
      f.index = true;
      f.contents = std::string(1, char(fuzz::kBuilt));
      check(fuzz::index_file(f, segments) == io.contents(kDir + "/" + n), "an index not as built from its segment");
      if (index_spec) f.contents = index_spec(f.number);
      files.push_back(std::move(f));
    }
    check(files.size() <= fuzz::kMaxFiles, "too many files");
    std::string out;
    check(fuzz::encode_input(options, files, out), "separator inside a file");
    return out;
  }

  SimIo io{1};
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::unique_ptr<broker::VHost> vhost;
  std::unique_ptr<VHostStore> store;

 private:
  broker::SeededEnv env_{1};
  uint64_t segment_bytes_;
};

// Options: how the fuzzer recovers and what its exercise does.
// `more`: kPowerLoss, kPurge, kDeleteFirst.
constexpr uint8_t options(bool add_header, int segment_bytes, broker::Outcome o, uint8_t more = 0) {
  return uint8_t((add_header ? fuzz::kAddHeader : 0) | segment_bytes << 1 | int(o) << 3 | more);
}

// Durable definitions of every kind, some changed or deleted since.
std::string definitions() {
  Writer w(64u << 20);
  w.exchange("orders", "topic", {{"alternate-exchange", "unrouted"}});
  w.exchange("unrouted", "fanout");
  w.exchange("by-header", "headers");
  w.exchange("gone", "direct");
  w.queue("q", {{"x-max-length", int64_t(10)}, {"x-dead-letter-exchange", "dlx"}, {"x-message-ttl", int64_t(60000)}});
  w.queue("prio", {{"x-max-priority", int64_t(5)}});
  w.queue("spare");
  check(!w.vhost->bind_queue("q", "orders", "eu.#", {}, 0), "bind");
  check(!w.vhost->bind_queue("spare", "unrouted", "", {}, 0), "bind");
  check(!w.vhost->bind_queue("prio", "by-header", "",
                             {{"x-match", "any"}, {"kind", "urgent"}, {"level", int64_t(3)}}, 0), "bind");
  check(!w.vhost->bind_exchange("by-header", "orders", "us.*", {}), "bind");
  check(!w.vhost->bind_queue("q", "amq.direct", "k", {}, 0), "bind");
  check(!w.vhost->unbind_queue("q", "amq.direct", "k", {}, 0), "unbind");
  check(!w.vhost->delete_exchange("gone", false), "delete_exchange");
  uint64_t n = 0;
  w.queue("doomed");
  check(!w.vhost->delete_queue("doomed", false, false, 0, w.now, n), "delete_queue");
  w.flush();
  return w.dump(options(true, 0, broker::Outcome::Accepted));
}

// Messages: settled, rejected into a dead-letter queue, left unacked,
// purged, routed to several queues, with properties of every kind.
std::string messages() {
  Writer w(64u << 20);
  w.queue("dlq");
  w.queue("q", {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "dlq"}});
  w.queue("a");
  w.queue("b");
  check(!w.vhost->bind_queue("a", "amq.fanout", "", {}, 0), "bind");
  check(!w.vhost->bind_queue("b", "amq.fanout", "", {}, 0), "bind");
  broker::Properties p;
  p.content_type = "text/plain";
  p.headers = broker::Table{{"s", "x"}, {"n", int64_t(-7)}, {"t", broker::Table{{"in", true}}},
                            {"arr", broker::Array{broker::Value(1.5), broker::Value("y")}}};
  p.priority = 3;
  p.message_id = "id-1";
  p.timestamp = 1700000000;
  p.expiration = "600000";
  w.publish("", "q", "first", p);
  w.publish("", "q", "second");
  w.publish("", "q", "third");
  w.publish("amq.fanout", "", "to both");
  // Over 0-9-1: raw properties that only its codec reads back.
  amqp091::BasicProperties bp;
  bp.content_type = "application/json";
  bp.delivery_mode = 2;
  bp.correlation_id = "c";
  std::string raw;
  check(amqp091::encode_properties(raw, bp), "encode_properties");
  broker::Message::Essentials e;
  e.persistent = true;
  w.publish("", broker::Message::received_bytes("", "q", &amqp091::PropertyCodec::instance(), raw, e, "{}"));
  w.flush();
  w.take("q", broker::Outcome::Accepted);
  w.take("q", broker::Outcome::Rejected);  // to dlq
  w.get_unsettled("q");                   // at-least-once: comes back
  w.take("a", broker::Outcome::Accepted);
  uint64_t n = 0;
  check(!w.vhost->purge_queue("b", 0, w.now, n), "purge");
  w.flush();
  return w.dump(options(true, 0, broker::Outcome::Rejected, fuzz::kPurge));
}

// A queue deleted with its messages and its name declared again; a
// restart in between, so that the log has a snapshot segment.
std::string redeclared() {
  Writer w(64u << 20);
  w.queue("q");
  w.publish("", "q", "old");
  uint64_t n = 0;
  w.flush();
  w.restart();
  check(!w.vhost->delete_queue("q", false, false, 0, w.now, n), "delete_queue");
  w.queue("q", {{"x-expires", int64_t(3600000)}, {"x-overflow", "reject-publish"}});
  w.publish("", "q", "new");
  w.publish("", "q", "short-lived", broker::Properties{.expiration = "1000"});
  w.flush();
  return w.dump(options(true, 1, broker::Outcome::Released));
}

// Small segments: rotation, snapshots at each segment's start, the old
// segments removed once nothing in them is live, and the sealed ones'
// indexes.
void rotate(Writer& w) {
  w.queue("q");
  w.queue("r", {{"x-max-length", int64_t(3)}, {"x-overflow", "drop-head"}});
  for (int i = 0; i < 12; ++i) {
    w.publish("", i % 3 ? "q" : "r", fmt::format("message {}", i));
    w.flush();
    if (i % 2) w.take("q", broker::Outcome::Accepted);
  }
  w.flush();
}

std::string rotated() {
  Writer w(256);
  rotate(w);
  return w.dump(options(true, 2, broker::Outcome::Modified, fuzz::kDeleteFirst));
}

// The same log, its sealed segments' indexes not as written: stale (of
// fewer records), beside the wrong segment, damaged (its CRC made good),
// torn, and its entries behind a header made to fit, or the file as is;
// and a stray one, of the newest segment or of one that is gone (`stray`
// after the newest).
std::string indexes_spoiled(uint8_t options, int first_variant, uint64_t stray) {
  Writer w(256);
  rotate(w);
  std::vector<std::string> names;
  check(w.io.list(kDir, names) == 0, "list");
  uint64_t newest = 0;
  for (const std::string& n : names)
    if (n.ends_with(".wlog")) std::from_chars(n.data(), n.data() + 20, newest);
  const uint64_t k = newest + stray;
  const std::string segment = w.io.exists(segment_path(kDir, k)) ? w.io.contents(segment_path(kDir, k)) : "";
  w.io.set_contents(index_path(kDir, k), fuzz::built_index(k, segment));
  int variant = first_variant;
  return w.dump(options, [&](uint64_t n) -> std::string {
    using namespace fuzz;
    const std::string real = w.io.contents(index_path(kDir, n));
    switch (variant++ % 6) {
      case 0: return {char(kBuilt | kFirstRecords), 1};
      case 1: return {char(kBuilt | kFrom | kStampSource), 0};
      case 2: return {char(kBuilt | kEdits | kFixCrc), 40, 0, 1};
      case 3: return {char(kBuilt | kCut), 50, 0};
      case 4: return char(kRawEntries) + real.substr(kIndexHeaderSize, real.size() - kIndexHeaderSize - 4);
      default: return char(kRawFile) + real;
    }
  });
}

std::string indexes_spoiled_a() { return indexes_spoiled(options(true, 2, broker::Outcome::Accepted), 0, 0); }
std::string indexes_spoiled_b() {
  return indexes_spoiled(options(false, 1, broker::Outcome::Rejected, fuzz::kPowerLoss), 3, 1);
}

// As it is on disk, headers and all; the exercise's batch is torn.
std::string raw_headers() {
  Writer w(64u << 20);
  w.queue("q");
  w.publish("", "q", "kept");
  w.flush();
  return w.dump(options(false, 3, broker::Outcome::Accepted, fuzz::kPowerLoss));
}

}  // namespace

int main(int argc, char** argv) {
  check(argc == 2, "usage: make_store_corpus <dir>");
  const std::pair<const char*, std::function<std::string()>> seeds[] = {
      {"definitions", definitions}, {"messages", messages}, {"redeclared", redeclared},
      {"rotated", rotated},         {"raw-headers", raw_headers}, {"indexes-spoiled-a", indexes_spoiled_a},
      {"indexes-spoiled-b", indexes_spoiled_b},
  };
  for (const auto& [name, make] : seeds) {
    const std::string bytes = make();
    check(bytes.size() < 8192, "a seed over -max_len");
    std::ofstream(fmt::format("{}/{}", argv[1], name), std::ios::binary) << bytes;
    std::printf("%s: %zu bytes\n", name, bytes.size());
  }
  return 0;
}
