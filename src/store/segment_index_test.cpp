// Segment indexes at the log's level: written when a segment is sealed,
// trusted only whole, and never different from reading the segment: after
// a crash at any step of a seal, with or without a power loss, reading the
// indexes gives the same records as reading every segment.
#include "store/segment_index.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "store/bytes.hpp"
#include "store/log.hpp"
#include "store/sim_io.hpp"

namespace warren::store::index_test {
namespace {

constexpr uint8_t kBig = 7;  // summarized: as its first two octets
constexpr uint8_t kSmall = 8;

bool summarize(uint8_t type, std::span<const uint8_t> head, uint64_t, std::vector<uint8_t>& out) {
  if (type != kBig || head.size() < 2) return false;
  out.assign(head.begin(), head.begin() + 2);
  return true;
}

// A record as recovery sees it: a summary of a kBig one is its first two
// octets, so both ways of reading give the same string.
struct Seen {
  Position at;
  uint8_t type;
  uint64_t size;
  std::string what;
  bool operator==(const Seen&) const = default;
};

struct Opened {
  int err = 0;
  std::unique_ptr<Log> log;
  std::vector<Seen> records;
  std::vector<IndexNote> notes;
  Log::OpenStats stats;
};

Opened open_log(Io& io, bool read_indexes = true, bool defer = false) {
  Opened o;
  Log::Replay replay{
      [&](Position at, uint8_t type, std::span<const uint8_t> p) {
        const size_t shown = type == kBig ? std::min<size_t>(2, p.size()) : p.size();
        o.records.push_back({at, type, p.size(), std::string(p.begin(), p.begin() + ptrdiff_t(shown))});
      },
      [&](Position at, uint8_t type, uint64_t size, std::span<const uint8_t> s) {
        o.records.push_back({at, type, size, std::string(s.begin(), s.end())});
      },
      [&](const Damage&) {}, [&](const IndexNote& n) { o.notes.push_back(n); }};
  o.err = Log::open(io, LogOptions{"data", 512, summarize, read_indexes, defer}, replay, o.log, &o.stats);
  return o;
}

// Batches like the store's: small records, and big ones whose bodies are
// written from where they lie (tails).
int write_batches(Log& log, int from, int n, std::vector<std::shared_ptr<std::string>>& keep) {
  for (int i = from; i < from + n; ++i) {
    Batch b;
    b.start = log.end();
    auto body = std::make_shared<std::string>(std::string(60 + i % 50, char('a' + i % 26)));
    keep.push_back(body);
    const std::string head = "m" + std::to_string(i);
    b.add(kBig, byte_span(head), byte_span(*body), body);
    b.add(kSmall, byte_span("enqueue " + std::to_string(i)));
    b.add(kBig, byte_span("x" + std::to_string(i)));  // whole, no tail
    b.rotate = b.end().offset >= 512;
    if (int err = log.write(b)) return err;
  }
  return 0;
}

bool not_an_index(const std::string& name) {
  uint64_t k;
  return !index_number(name, k);
}

// What recovery makes of `io` with its indexes, and without them, on
// copies (opening writes: indexes, a resumed segment's sync).
void expect_same_either_way(SimIo& io, const char* where, uint64_t* indexed = nullptr) {
  SimIo with, without;
  io.copy_dir("data", with);
  io.copy_dir("data", without, not_an_index);
  Opened a = open_log(with), b = open_log(without, false);
  ASSERT_EQ(a.err, 0) << where;
  ASSERT_EQ(b.err, 0) << where;
  EXPECT_EQ(a.records, b.records) << where;
  if (indexed) *indexed += a.stats.indexed;
}

TEST(SegmentIndex, OnlyAWholeIndexIsTaken) {
  IndexBuilder b(3);
  const std::string big(40, 'b');
  b.add(16, kBig, byte_span(big), {}, summarize);
  b.add(16 + 9 + 40, kSmall, byte_span("small"), {}, summarize);
  const std::vector<uint8_t> file = b.file_bytes();
  SegmentIndex idx;
  ASSERT_EQ(parse_index(file, 3, idx), "");
  EXPECT_EQ(idx.count, 2u);
  EXPECT_EQ(idx.end, 16u + 9 + 40 + 9 + 5);
  EXPECT_EQ(idx.last.offset, 16u + 9 + 40);
  std::vector<IndexEntry> seen;
  idx.for_each([&](const IndexEntry& e) { seen.push_back(e); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].summarized);
  EXPECT_EQ(seen[0].size, 40u);
  EXPECT_EQ(std::string(seen[0].bytes.begin(), seen[0].bytes.end()), "bb");
  EXPECT_FALSE(seen[1].summarized);
  EXPECT_EQ(std::string(seen[1].bytes.begin(), seen[1].bytes.end()), "small");
  // Torn anywhere, any octet changed, or another segment's: refused.
  for (size_t n = 0; n < file.size(); ++n)
    EXPECT_NE(parse_index(std::vector<uint8_t>(file.begin(), file.begin() + ptrdiff_t(n)), 3, idx), "") << n;
  for (size_t i = 0; i < file.size(); ++i) {
    std::vector<uint8_t> bad = file;
    bad[i] ^= 0x10;
    EXPECT_NE(parse_index(bad, 3, idx), "") << i;
  }
  EXPECT_NE(parse_index(file, 4, idx), "");
  // Records that do not follow one another make no index.
  IndexBuilder gap(1);
  gap.add(16, kSmall, byte_span("a"), {}, summarize);
  gap.add(100, kSmall, byte_span("b"), {}, summarize);
  EXPECT_FALSE(gap.usable());
}

// A log of `n` batches in `io`, closed.
void write_log(SimIo& io, int n) {
  std::vector<std::shared_ptr<std::string>> keep;
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  ASSERT_EQ(write_batches(*o.log, 0, n, keep), 0);
  EXPECT_GT(o.log->end().segment, uint64_t(n / 8));
}

TEST(SegmentIndex, SealedSegmentsAreReadFromTheirIndexes) {
  SimIo io;
  write_log(io, 40);
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  EXPECT_EQ(o.stats.scanned, 0u);
  EXPECT_GT(o.stats.indexed, 5u);
  EXPECT_TRUE(o.notes.empty());
  EXPECT_EQ(o.records.size(), 120u);
  o.log.reset();
  uint64_t indexed = 0;
  expect_same_either_way(io, "after a clean stop", &indexed);
  EXPECT_GT(indexed, 5u);
}

// A log from before indexes (or whose indexes were lost) is read whole
// once, and has its indexes from then on.
TEST(SegmentIndex, MissingIndexesAreWrittenAtRecovery) {
  SimIo io;
  write_log(io, 30);
  std::vector<std::string> names;
  io.list("data", names);
  uint64_t k, removed = 0;
  for (const std::string& n : names)
    if (index_number(n, k)) removed += io.remove("data/" + n) == 0;
  ASSERT_GT(removed, 3u);
  Opened first = open_log(io);
  ASSERT_EQ(first.err, 0);
  EXPECT_EQ(first.stats.indexed, 0u);
  EXPECT_EQ(first.stats.indexes_written, removed);
  EXPECT_EQ(first.stats.missing, removed);
  EXPECT_TRUE(first.notes.empty());
  first.log.reset();
  Opened second = open_log(io);
  EXPECT_EQ(second.stats.indexed, removed);
  EXPECT_EQ(second.stats.scanned, 0u);
  EXPECT_EQ(second.records, first.records);
}

// An index that does not belong to its segment's bytes is not taken:
// its segment's last record is elsewhere, or the segment is another.
TEST(SegmentIndex, AnIndexIsCheckedAgainstItsSegment) {
  SimIo io;
  write_log(io, 20);
  // Segment 2's index put beside segment 1, and segment 3 cut short.
  io.set_contents(index_path("data", 1), io.contents(index_path("data", 2)));
  std::string three = io.contents(segment_path("data", 3));
  io.set_contents(segment_path("data", 3), three.substr(0, three.size() - 30));
  SimIo without;
  io.copy_dir("data", without, not_an_index);
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  ASSERT_EQ(o.notes.size(), 2u);
  EXPECT_NE(o.notes[0].what.find("names segment 2"), std::string::npos) << o.notes[0].what;
  EXPECT_NE(o.notes[1].what.find("shorter"), std::string::npos) << o.notes[1].what;
  EXPECT_EQ(o.records, open_log(without, false).records);
}

// Deferred (as warrend's writer does), a sealed segment's index is
// written when asked, between batches, or else at the next seal.
TEST(SegmentIndex, ADeferredIndexIsWrittenWhenAskedOrAtTheNextSeal) {
  SimIo io;
  std::vector<std::shared_ptr<std::string>> keep;
  Opened o = open_log(io, true, /*defer=*/true);
  ASSERT_EQ(o.err, 0);
  while (o.log->end().segment == 1) ASSERT_EQ(write_batches(*o.log, 0, 1, keep), 0);
  EXPECT_FALSE(io.exists(index_path("data", 1)));
  EXPECT_TRUE(o.log->write_sealed_index());
  EXPECT_TRUE(io.exists(index_path("data", 1)));
  EXPECT_FALSE(o.log->write_sealed_index());  // nothing more waits
  while (o.log->end().segment < 4) ASSERT_EQ(write_batches(*o.log, 0, 1, keep), 0);
  EXPECT_TRUE(io.exists(index_path("data", 2)));  // by the seal after it
  EXPECT_FALSE(io.exists(index_path("data", 3)));
  o.log.reset();  // the process ends with segment 3's index unwritten: read whole
  Opened again = open_log(io);
  EXPECT_EQ(again.stats.indexed, 2u);
  EXPECT_EQ(again.stats.missing, 1u);
}

// An Io that dies after `ops` more writing calls: the process stops there
// (every later call fails), and the test may then cut the power.
class DyingIo final : public Io {
 public:
  DyingIo(SimIo& sim, int ops) : sim_(sim), left_(ops) {}
  bool dead() const { return left_ <= 0; }

  int open(const std::string& path, OpenMode mode, std::unique_ptr<File>& out) override {
    if (mode == OpenMode::Create && !step()) return EIO;
    std::unique_ptr<File> f;
    if (int err = sim_.open(path, mode, f)) return err;
    out = std::make_unique<DyingFile>(*this, std::move(f));
    return 0;
  }
  int list(const std::string& dir, std::vector<std::string>& names) override { return sim_.list(dir, names); }
  int make_dir(const std::string& path) override { return sim_.make_dir(path); }
  int remove(const std::string& path) override { return step() ? sim_.remove(path) : EIO; }
  int rename(const std::string& from, const std::string& to) override { return step() ? sim_.rename(from, to) : EIO; }
  int sync_dir(const std::string& dir) override { return step() ? sim_.sync_dir(dir) : EIO; }
  int free_bytes(const std::string& dir, uint64_t& out) override { return sim_.free_bytes(dir, out); }
  int lock(const std::string& path, std::unique_ptr<File>& holder) override { return sim_.lock(path, holder); }

 private:
  class DyingFile final : public File {
   public:
    DyingFile(DyingIo& io, std::unique_ptr<File> f) : io_(io), f_(std::move(f)) {}
    int write_at(std::span<const uint8_t> d, uint64_t offset, size_t& written) override {
      written = 0;
      return io_.step() ? f_->write_at(d, offset, written) : EIO;
    }
    int write_parts_at(std::span<const std::span<const uint8_t>> parts, uint64_t offset, size_t& written) override {
      written = 0;
      return io_.step() ? f_->write_parts_at(parts, offset, written) : EIO;
    }
    int read_at(std::span<uint8_t> out, uint64_t offset, size_t& got) override { return f_->read_at(out, offset, got); }
    int sync() override { return io_.step() ? f_->sync() : EIO; }
    int truncate(uint64_t size) override { return io_.step() ? f_->truncate(size) : EIO; }
    int size(uint64_t& out) override { return f_->size(out); }

   private:
    DyingIo& io_;
    std::unique_ptr<File> f_;
  };
  bool step() { return --left_ >= 0; }
  SimIo& sim_;
  int left_;
};

// The process dies at every writing call in turn while segments are
// sealed (a batch's write and sync, the index's write and sync, the next
// segment's creation, the directory's sync), then restarts, after a power
// loss or not. Whatever was left, indexes or none, torn or not, recovery
// from the indexes reads what reading every segment reads, and every
// batch written whole before the death is there.
TEST(SegmentIndex, ADeathAtAnyStepOfASealChangesNothingIndexesShow) {
  uint64_t indexed = 0;
  int deaths = 0;
  for (int run = 0; run < 4; ++run) {
    const bool power_loss = run & 1, defer = run & 2;
    for (int ops = 1; ops < 400 && !HasFailure(); ++ops) {
      SimIo sim{uint64_t(ops)};
      std::vector<std::shared_ptr<std::string>> keep;
      int written = 0;
      {
        DyingIo io(sim, ops);
        Opened o = open_log(io, true, defer);
        if (o.err == 0) {
          for (int i = 0; i < 16; ++i) {
            if (write_batches(*o.log, i, 1, keep)) break;
            if (!io.dead()) written = i + 1;
            if (defer) o.log->write_sealed_index();  // as the writer thread does between batches
          }
        }
        if (!io.dead()) break;  // it ran to the end: every step was tried
        ++deaths;
      }
      if (power_loss) sim.power_loss();
      const std::string where = "death at write call " + std::to_string(ops) + (power_loss ? ", power lost" : "") +
                                (defer ? ", indexes deferred" : "");
      expect_same_either_way(sim, where.c_str(), &indexed);
      // Everything written and synced before the death is there (after a
      // power loss the batch being written may be torn away, not more).
      Opened o = open_log(sim);
      ASSERT_EQ(o.err, 0) << where;
      int big = 0;
      for (const Seen& s : o.records) big += s.type == kBig && s.what[0] == 'm';
      EXPECT_GE(big, written) << where;
    }
  }
  EXPECT_GT(deaths, 200);    // at each of some 60 writing calls, four times
  EXPECT_GT(indexed, 200u);  // and indexes were there to read
}

}  // namespace
}  // namespace warren::store::index_test
