#pragma once
// A log: numbered segment files in one directory, appended in order and
// read back in order at startup. The store above decides what records
// mean; this keeps them safe: one writer (a lock file keeps a second
// process out), group commit (sync() covers every record added since the
// last one), a new segment when the current one is full, and whole
// segments removed once nothing in them is needed.
//
// Segment files are named by number, "00000000000000000001.wlog".
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/io.hpp"
#include "store/segment.hpp"
#include "store/segment_index.hpp"

namespace warren::store {

// Where a record is: its segment and its offset in it.
struct Position {
  uint64_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const Position&) const = default;
};

struct LogOptions {
  std::string dir;
  uint64_t segment_bytes = 64u << 20;  // a segment is closed once it reaches this
  // Segment indexes (segment_index.hpp): a sealed segment's index is
  // written with what this makes of its records. Null: none are written.
  Summarize summarize;
  // Open reads a sealed segment's index, when it has a good one, instead
  // of the segment (with Replay::on_summary). False: every segment is read.
  bool read_indexes = true;
  // A sealed segment's index is written by write_sealed_index(), which the
  // writer calls once the batch that sealed it is reported (its write and
  // sync, 2-13 ms for 1.2 MB on this VM, then delay no confirm), or else
  // by the next seal. False: at the seal, inside write().
  bool defer_indexes = false;
};

// Something recovery found wrong: a segment's file name, the offset and
// length of the damaged bytes, and what (for the log).
struct Damage {
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string what;
};

// An index recovery did not use, and why: not damage (its segment is
// read instead), but worth a warning in the log.
struct IndexNote {
  std::string file;
  std::string what;
};

// Records framed on one thread (the event loop) to be written by another
// (the store's writer, Log::write). The framer knows where they will go,
// so a record's Position is known when it is added.
//
// A record's payload may end in octets that stay where they are (a large
// message body, shared with the queues and consumers): a Tail, written
// from there by one gathered write and kept alive by the batch until then,
// its CRC computed over it in place. The octets on disk are the same.
struct Batch {
  // Octets of a record's payload, after its other octets in `bytes` (which
  // end at `at`), written from where they are.
  struct Tail {
    uint32_t at;
    std::span<const uint8_t> octets;
    std::shared_ptr<const void> keep;  // alive until written
  };

  Position start;                 // where its first record goes
  std::vector<uint8_t> bytes;     // framed records, CRCs blank until written; no tails
  std::vector<uint32_t> records;  // where each record starts in `bytes`
  std::vector<Tail> tails;        // in order of `at`
  uint64_t tail_octets = 0;
  bool rotate = false;            // a new segment begins once it is durable
  uint64_t remove_before = 0;     // then the closed segments below this go (0: none)

  // `a` and `b` are the payload's two parts, side by side.
  Position add(uint8_t type, std::span<const uint8_t> a, std::span<const uint8_t> b = {}) {
    Position at = end();
    records.push_back(uint32_t(bytes.size()));
    frame_record(bytes, type, a, b);
    return at;
  }
  // The same with `b` a tail, which `keep` keeps alive until written.
  Position add(uint8_t type, std::span<const uint8_t> a, std::span<const uint8_t> b, std::shared_ptr<const void> keep) {
    Position at = end();
    records.push_back(uint32_t(bytes.size()));
    frame_record_head(bytes, type, a, b.size());
    tails.push_back({uint32_t(bytes.size()), b, std::move(keep)});
    tail_octets += b.size();
    return at;
  }
  // Appends `other`'s records after these.
  void append(const Batch& other);
  bool empty() const { return records.empty(); }
  uint64_t size() const { return bytes.size() + tail_octets; }  // as written
  Position end() const { return {start.segment, start.offset + size()}; }
  // The octets to write, in order: `bytes` cut at each tail, and the tails.
  std::vector<std::span<const uint8_t>> parts() const;
  // Fills in the records' CRCs.
  void seal();
  // fn(offset, type, head, tail) for each record, where it is written:
  // its payload is `head` (in `bytes`) then `tail` (a Tail's octets, or empty).
  template <class Fn>
  void for_each_record(Fn&& fn) const;
  void clear() {
    bytes.clear();
    records.clear();
    tails.clear();
    tail_octets = 0;
    rotate = false;
    remove_before = 0;
  }
};

// Positions are kept in 32 bits each (Message::Stored): a file numbered
// above this is damage (4 billion segments are never reached), not read.
inline constexpr uint64_t kMaxSegmentNumber = UINT32_MAX - 1;

// Segment `number`'s file in `dir`.
std::string segment_path(const std::string& dir, uint64_t number);

class Log {
 public:
  using OnRecord = std::function<void(Position at, uint8_t type, std::span<const uint8_t> payload)>;
  // A record an index summarized: its type, payload size and summary.
  using OnSummary = std::function<void(Position at, uint8_t type, uint64_t size, std::span<const uint8_t> summary)>;
  using OnDamage = std::function<void(const Damage&)>;
  using OnNote = std::function<void(const IndexNote&)>;
  // What open() hands its findings to.
  struct Replay {
    OnRecord on_record;
    OnSummary on_summary;  // null: no index is read (every segment is)
    OnDamage on_damage;
    OnNote on_note;        // may be null
    // Before the replay: about how many records the indexes hold (their
    // headers' word), to size tables once. May be null.
    std::function<void(uint64_t records)> on_expect;
  };
  // How open() read the sealed segments.
  struct OpenStats {
    uint64_t indexed = 0;  // from their index
    uint64_t scanned = 0;  // whole
    uint64_t missing = 0;  // of those, without an index (a log from before indexes, a crash before one was synced)
    uint64_t indexes_written = 0;  // for segments read whole
  };

  // Opens the log in opts.dir (created if missing), taking its lock
  // (EWOULDBLOCK: another process has it), and hands every valid record
  // to `on_record` in order. A torn tail of the last segment is cut off;
  // damage anywhere else goes to `on_damage`, and reading goes on past it.
  static int open(Io& io, LogOptions opts, const OnRecord& on_record, const OnDamage& on_damage,
                  std::unique_ptr<Log>& out);
  // The same, reading sealed segments' indexes where they are good: a
  // summarized record goes to on_summary instead of on_record. The last
  // segment is always read whole. A sealed segment read whole because it
  // had no good index, and found undamaged, gets its index written.
  static int open(Io& io, LogOptions opts, const Replay& replay, std::unique_ptr<Log>& out,
                  OpenStats* stats = nullptr);

  // Buffers a record; it is written and made durable by the next sync().
  Position add(uint8_t type, std::span<const uint8_t> payload);
  // Writes and syncs what was added (group commit), then starts a new
  // segment if the current one is full. After any error the log is
  // failed for good (fail-stop; see File::sync) and returns it again.
  int sync();

  // Writes `b` (sealing its records), syncs, then starts a new segment and
  // removes old ones if it says so. `b` must start at end(). Fail-stop
  // like sync(). The thread that owns the log calls it; nothing else may
  // use the log meanwhile.
  int write(Batch& b);
  // The first half of write(): `b` written, not synced, nothing after.
  // For tests that lose power in the middle of a batch.
  int write_unsynced(Batch& b);

  // Prepares the next segment's file ahead of its use, `budget` bytes of
  // zeros at a time, between batches (the writer's thread): filled to
  // segment_bytes and synced, it is taken by the next rotation, whose
  // writes then overwrite allocated blocks and whose syncs carry no
  // metadata (an fdatasync of a 23 KB append: 225 us; of an overwrite:
  // 128 us, on this VM). Returns true while there is more to do. Failures
  // only end the preparation: the next segment is then created as before.
  bool prepare(size_t budget);
  bool prepared() const { return prepared_ready_; }

  Position end() const { return {number_, writer_.end()}; }  // where the next record goes
  const LogOptions& options() const { return opts_; }
  uint64_t first_segment() const { return segments_.empty() ? number_ : segments_.front(); }
  int error() const { return error_; }
  // Removes the closed segments numbered below `segment`: their records
  // are no longer needed.
  int remove_segments_before(uint64_t segment);
  // Writes and syncs the index of the segment last sealed, if it waits
  // (LogOptions::defer_indexes); false if none did. The writer's thread,
  // between batches.
  bool write_sealed_index(bool sync_dir = true);
  // Indexes written at seals that failed (the segment stays without one:
  // the next recovery reads it whole). For tests and the log.
  uint64_t index_failures() const { return index_failures_.load(std::memory_order_relaxed); }

 private:
  Log(Io& io, LogOptions opts) : io_(io), opts_(std::move(opts)) {}
  std::string path_of(uint64_t number) const;
  int start_segment(uint64_t number);
  // Writes and syncs `b`'s index file; false if that failed (the file is
  // then removed: the segment has no index, and is read whole).
  bool write_index(const IndexBuilder& b);
  void index_records(const Batch& b);
  std::string prepared_path() const { return opts_.dir + "/next-segment.tmp"; }
  void abandon_prepared();

  Io& io_;
  LogOptions opts_;
  std::unique_ptr<File> lock_;
  std::vector<uint64_t> segments_;  // closed ones, oldest first
  uint64_t number_ = 0;             // the segment being written
  std::unique_ptr<File> file_;
  SegmentWriter writer_;
  IndexBuilder index_;  // the current segment's, as its records are written
  std::optional<IndexBuilder> sealed_;  // the last sealed segment's, not yet written
  std::atomic<uint64_t> index_failures_{0};  // read by other threads
  int error_ = 0;
  // The next segment's file, being prepared (prepare()).
  std::unique_ptr<File> prepared_;
  uint64_t prepared_bytes_ = 0;
  bool prepared_ready_ = false;
  bool prepare_failed_ = false;
};

template <class Fn>
void Batch::for_each_record(Fn&& fn) const {
  size_t t = 0;
  uint64_t tails_before = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const uint32_t end = i + 1 < records.size() ? records[i + 1] : uint32_t(bytes.size());
    std::span<const uint8_t> tail;
    if (t < tails.size() && tails[t].at == end && tails[t].at > records[i]) tail = tails[t++].octets;
    const uint8_t* r = bytes.data() + records[i];
    fn(start.offset + records[i] + tails_before, r[8],
       std::span<const uint8_t>(r + kRecordHeaderSize, end - records[i] - kRecordHeaderSize), tail);
    tails_before += tail.size();
  }
}

}  // namespace warren::store
