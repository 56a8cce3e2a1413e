#include "store/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>

namespace warren::store {

namespace {

constexpr std::string_view kSuffix = ".wlog";

// The segment number a file name stands for, if it is one.
bool segment_number(const std::string& name, uint64_t& out) {
  if (name.size() != 20 + kSuffix.size() || !name.ends_with(kSuffix)) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, out);
  return ec == std::errc() && p == name.data() + 20;
}

}  // namespace

std::string segment_path(const std::string& dir, uint64_t number) {
  return fmt::format("{}/{:020}{}", dir, number, kSuffix);
}

std::string Log::path_of(uint64_t number) const { return segment_path(opts_.dir, number); }

int Log::open(Io& io, LogOptions opts, const OnRecord& on_record, const OnDamage& on_damage,
              std::unique_ptr<Log>& out) {
  return open(io, std::move(opts), Replay{on_record, nullptr, on_damage, nullptr}, out);
}

int Log::open(Io& io, LogOptions opts, const Replay& rp, std::unique_ptr<Log>& out, OpenStats* stats) {
  OpenStats local;
  OpenStats& st = stats ? *stats : local;
  std::unique_ptr<Log> log(new Log(io, std::move(opts)));
  const std::string& dir = log->opts_.dir;
  const Summarize& summarize = log->opts_.summarize;
  auto note = [&](std::string file, std::string what) {
    if (rp.on_note) rp.on_note(IndexNote{std::move(file), std::move(what)});
  };
  if (int err = io.make_dir(dir)) return err;
  if (int err = io.lock(dir + "/LOCK", log->lock_)) return err;

  std::vector<std::string> names;
  if (int err = io.list(dir, names)) return err;
  // A segment being prepared when the process stopped: in no known state.
  if (std::find(names.begin(), names.end(), "next-segment.tmp") != names.end())
    if (int err = io.remove(log->prepared_path())) return err;
  std::vector<uint64_t> numbers, indexes;
  for (const std::string& n : names) {
    uint64_t k;
    if (index_number(n, k)) {
      indexes.push_back(k);
      continue;
    }
    if (!segment_number(n, k)) continue;
    if (k > kMaxSegmentNumber) {
      rp.on_damage({dir + "/" + n, 0, 0, "segment number out of range: not read"});
      continue;
    }
    numbers.push_back(k);
  }
  std::sort(numbers.begin(), numbers.end());
  // An index whose segment is gone (they go together, but a crash may
  // part them) is of no use; one of the last segment, which is appended
  // to from here on, would soon be wrong. Both go before anything is
  // appended.
  std::set<uint64_t> indexed;
  bool removed = false;
  for (uint64_t k : indexes) {
    if (std::binary_search(numbers.begin(), numbers.end(), k) && k != numbers.back()) {  // (numbers is not empty)
      indexed.insert(k);
      continue;
    }
    if (int err = io.remove(index_path(dir, k)); err && err != ENOENT) return err;
    removed = true;
  }
  if (removed)
    if (int err = io.sync_dir(dir)) return err;

  const bool use_indexes = log->opts_.read_indexes && rp.on_summary;
  if (use_indexes && rp.on_expect) {
    uint64_t records = 0;
    for (uint64_t k : indexed) records += index_entries(io, dir, k);
    rp.on_expect(records);
  }
  bool wrote_indexes = false;
  std::vector<uint8_t> buffer;  // one for every segment read
  SegmentIndex index;           // the same for every index read
  for (size_t i = 0; i < numbers.size(); ++i) {
    const uint64_t k = numbers[i];
    const bool last = i + 1 == numbers.size();
    const std::string path = log->path_of(k);
    std::unique_ptr<File> f;
    if (int err = io.open(path, last ? OpenMode::ReadWrite : OpenMode::Read, f)) return err;
    if (!last && use_indexes) {
      if (indexed.contains(k)) {
        std::string why;
        const int err = load_index(io, dir, k, *f, index, why);
        if (err == 0) {
          index.for_each([&](const IndexEntry& e) {
            const Position at{k, e.offset};
            if (e.summarized)
              rp.on_summary(at, e.type, e.size, e.bytes);
            else
              rp.on_record(at, e.type, e.bytes);
          });
          log->segments_.push_back(k);
          ++st.indexed;
          continue;
        }
        note(index_path(dir, k),
             fmt::format("not used ({}): its segment is read instead", err == EBADMSG ? why : std::strerror(err)));
      } else {
        ++st.missing;
      }
    }
    // The segment, read whole; its index built on the way, for the last
    // segment (written when it is sealed) or one whose index is missing.
    const bool build = summarize && (last || use_indexes);
    IndexBuilder built(k);
    ScanResult r = scan_segment(
        *f,
        [&](uint64_t offset, uint8_t type, std::span<const uint8_t> p) {
          rp.on_record(Position{k, offset}, type, p);
          if (build) built.add(offset, type, p, {}, summarize);
        },
        buffer);
    if (r.error == EINVAL && last) {
      // Created, then the crash came before its header was synced: it
      // never held a record. Start it again.
      if (int err = f->truncate(0)) return err;
      log->file_ = std::move(f);
      log->number_ = k;
      log->index_ = IndexBuilder(k);
      if (int err = SegmentWriter::create(*log->file_, k, log->writer_)) return err;
      continue;
    }
    if (r.error) {
      rp.on_damage({path, 0, 0, r.error == ENOTSUP ? "unknown format version" : "not a segment"});
      log->segments_.push_back(k);
      continue;
    }
    // A damaged segment gets no index: its damage is reported at every
    // recovery, as it would be without indexes.
    if (!r.damaged.empty()) built.spoil();
    for (auto [offset, length] : r.damaged) rp.on_damage({path, offset, length, "damaged records"});
    if (!last) {
      if (r.tail_bytes && !r.zero_tail) {
        rp.on_damage({path, r.good_end, r.tail_bytes, "damaged end of a closed segment"});
        built.spoil();
      }
      log->segments_.push_back(k);
      ++st.scanned;
      if (build && built.usable() && built.end() == r.good_end && log->write_index(built)) {
        ++st.indexes_written;
        wrote_indexes = true;
      }
      continue;
    }
    log->file_ = std::move(f);
    log->number_ = k;
    log->index_ = std::move(built);
    if (int err = SegmentWriter::resume(*log->file_, r.good_end, log->writer_)) return err;
    // What was read may have been in the page cache only (the process died,
    // the machine did not): make it durable before anything builds on it.
    if (int err = log->file_->sync()) return err;
  }
  // The indexes written are of use once their names are durable too; a
  // failure here costs only their use.
  if (wrote_indexes && io.sync_dir(dir)) note(dir, "could not be synced after indexes were written in it");
  if (!log->file_)
    if (int err = log->start_segment(numbers.empty() ? 1 : numbers.back() + 1)) return err;
  out = std::move(log);
  return 0;
}

bool Log::write_index(const IndexBuilder& b) {
  const std::string path = index_path(opts_.dir, b.segment());
  std::unique_ptr<File> f;
  int err = io_.open(path, OpenMode::Create, f);
  if (!err) err = f->truncate(0);
  if (!err) err = b.write(*f);
  if (!err) err = f->sync();
  if (!err) return true;
  // The segment is read whole at the next recovery; an index torn or
  // unsynced would not check there either, but need not stay.
  index_failures_.fetch_add(1, std::memory_order_relaxed);
  f.reset();
  io_.remove(path);
  return false;
}

bool Log::write_sealed_index(bool sync_dir) {
  if (!sealed_) return false;
  const bool ok = write_index(*sealed_);
  sealed_.reset();
  if (ok && sync_dir && io_.sync_dir(opts_.dir)) index_failures_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Log::index_records(const Batch& b) {
  if (!opts_.summarize) return;
  b.for_each_record([&](uint64_t offset, uint8_t type, std::span<const uint8_t> head, std::span<const uint8_t> tail) {
    index_.add(offset, type, head, tail, opts_.summarize);
  });
}

// A new segment is durable, header and name, before any record goes in.
// A prepared file becomes it when there is one: zeros to segment_bytes,
// synced, then its header and its name.
//
// The segment it closes is sealed: its records are synced, and its index
// is written and synced before the new segment's name is (one sync of the
// directory makes both durable), or, with LogOptions::defer_indexes, by
// write_sealed_index() (at the latest by the next seal). A failed index is
// not the log's failure: that segment is read whole at the next recovery.
int Log::start_segment(uint64_t number) {
  write_sealed_index(/*sync_dir=*/false);  // an earlier one still waiting: the directory is synced below
  if (file_ && opts_.summarize && index_.usable() && index_.segment() == number_ && index_.end() == writer_.end() &&
      writer_.end() == writer_.durable_end()) {
    sealed_ = std::move(index_);
    if (!opts_.defer_indexes) write_sealed_index(/*sync_dir=*/false);  // the directory is synced below
  }
  std::unique_ptr<File> f;
  const bool use_prepared = prepared_ready_;
  if (use_prepared) {
    f = std::move(prepared_);
    prepared_ready_ = false;
    prepared_bytes_ = 0;
  } else if (int err = io_.open(path_of(number), OpenMode::Create, f)) {
    return err;
  }
  SegmentWriter w;
  if (int err = SegmentWriter::create(*f, number, w)) return err;
  if (int err = f->sync()) return err;
  if (use_prepared)
    if (int err = io_.rename(prepared_path(), path_of(number))) return err;
  if (int err = io_.sync_dir(opts_.dir)) return err;
  if (file_) segments_.push_back(number_);
  file_ = std::move(f);
  writer_ = std::move(w);
  number_ = number;
  index_ = IndexBuilder(number);
  return 0;
}

Position Log::add(uint8_t type, std::span<const uint8_t> payload) {
  Position at = end();
  writer_.add(type, payload);
  if (opts_.summarize) index_.add(at.offset, type, payload, {}, opts_.summarize);
  return at;
}

int Log::sync() {
  if (error_) return error_;
  if (int err = writer_.sync()) return error_ = err;
  if (writer_.end() >= opts_.segment_bytes)
    if (int err = start_segment(number_ + 1)) return error_ = err;
  return 0;
}

bool Log::prepare(size_t budget) {
  if (error_ || prepare_failed_ || prepared_ready_) return false;
  auto fail = [&] {
    abandon_prepared();
    prepare_failed_ = true;  // not again this run: the disk is full, or worse
    return false;
  };
  if (!prepared_ && io_.open(prepared_path(), OpenMode::Create, prepared_)) return fail();
  static const std::vector<uint8_t> zeros(1 << 20);
  const uint64_t target = opts_.segment_bytes;
  while (budget > 0 && prepared_bytes_ < target) {
    const size_t n = size_t(std::min<uint64_t>({budget, zeros.size(), target - prepared_bytes_}));
    if (write_all(*prepared_, std::span(zeros.data(), n), prepared_bytes_)) return fail();
    prepared_->start_writeback(prepared_bytes_, n);
    prepared_bytes_ += n;
    budget -= n;
  }
  if (prepared_bytes_ < target) return true;
  if (prepared_->sync()) return fail();
  prepared_ready_ = true;
  return false;
}

void Log::abandon_prepared() {
  prepared_.reset();
  prepared_bytes_ = 0;
  prepared_ready_ = false;
  io_.remove(prepared_path());
}

void Batch::append(const Batch& other) {
  const uint32_t base = uint32_t(bytes.size());
  bytes.insert(bytes.end(), other.bytes.begin(), other.bytes.end());
  for (uint32_t r : other.records) records.push_back(base + r);
  for (const Tail& t : other.tails) tails.push_back({base + t.at, t.octets, t.keep});
  tail_octets += other.tail_octets;
}

std::vector<std::span<const uint8_t>> Batch::parts() const {
  std::vector<std::span<const uint8_t>> out;
  out.reserve(2 * tails.size() + 1);
  size_t from = 0;
  for (const Tail& t : tails) {
    out.emplace_back(bytes.data() + from, t.at - from);
    out.push_back(t.octets);
    from = t.at;
  }
  out.emplace_back(bytes.data() + from, bytes.size() - from);
  return out;
}

// A record's tail, if it has one, is where its octets in `bytes` end: at
// the next record's start, or at the end.
void Batch::seal() {
  size_t t = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const uint32_t end = i + 1 < records.size() ? records[i + 1] : uint32_t(bytes.size());
    std::span<const uint8_t> tail;
    if (t < tails.size() && tails[t].at == end && tails[t].at > records[i]) tail = tails[t++].octets;
    seal_record(bytes.data() + records[i], tail);
  }
}

int Log::write_unsynced(Batch& b) {
  if (error_) return error_;
  if (b.start != end()) return error_ = EINVAL;  // the framer lost count: stop before anything is misplaced
  b.seal();
  const int err = b.tails.empty() ? writer_.write(b.bytes) : writer_.write(b.parts());
  if (err) return error_ = err;
  index_records(b);
  return 0;
}

int Log::write(Batch& b) {
  if (int err = write_unsynced(b)) return err;
  if (int err = writer_.sync()) return error_ = err;
  if (b.rotate)
    if (int err = start_segment(number_ + 1)) return error_ = err;
  if (b.remove_before)
    if (int err = remove_segments_before(b.remove_before)) return error_ = err;
  return 0;
}

int Log::remove_segments_before(uint64_t segment) {
  if (error_) return error_;
  size_t n = 0;
  while (n < segments_.size() && segments_[n] < segment) {
    if (int err = io_.remove(path_of(segments_[n])); err && err != ENOENT) return err;
    if (int err = io_.remove(index_path(opts_.dir, segments_[n])); err && err != ENOENT) return err;
    ++n;
  }
  if (n == 0) return 0;
  segments_.erase(segments_.begin(), segments_.begin() + ptrdiff_t(n));
  return io_.sync_dir(opts_.dir);
}

}  // namespace warren::store
