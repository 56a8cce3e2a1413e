#include "store/inspect.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>
#include <unordered_map>

#include "store/records.hpp"
#include "store/segment.hpp"
#include "store/segment_index.hpp"

namespace warren::store {

bool Inspection::damaged() const {
  if (undecodable) return true;
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentSummary& s = segments[i];
    const bool last = i + 1 == segments.size();
    if (s.unreadable || !s.damaged.empty() || (s.tail_bytes && !s.zero_tail && !last)) return true;
    if (s.index == SegmentSummary::Index::Bad) return true;
  }
  return false;
}

namespace {

// The index of segment `number` against the one its records make.
void check_index(Io& io, const std::string& dir, uint64_t number, const ScanResult& r, const IndexBuilder& expected,
                 SegmentSummary& s) {
  using Index = SegmentSummary::Index;
  s.index = Index::Bad;
  std::unique_ptr<File> f;
  uint64_t size = 0;
  if (int err = io.open(index_path(dir, number), OpenMode::Read, f); err || f->size(size)) {
    s.index_problem = "unreadable";
    return;
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  size_t got = 0;
  if (f->read_at(bytes, 0, got)) {
    s.index_problem = "unreadable";
    return;
  }
  bytes.resize(got);
  s.index_bytes = got;
  SegmentIndex parsed;
  if (std::string why = parse_index(bytes, number, parsed); !why.empty()) {
    s.index_problem = why;
    return;
  }
  if (r.error || !expected.usable() || !r.damaged.empty()) {
    s.index = Index::Unchecked;
    s.index_problem = "its segment is damaged: recovery would use the index, and a damaged message is found when read";
    return;
  }
  if (parsed.end > r.good_end) {
    s.index_problem = "it holds records the segment does not";
    return;
  }
  if (parsed.end < r.good_end) {
    s.index_problem = "the segment holds records it does not (a stale index: recovery would be wrong)";
    return;
  }
  if (expected.file_bytes() != bytes) {
    s.index_problem = "it does not match the segment's records";
    return;
  }
  s.index = Index::Good;
}

}  // namespace

int inspect(Io& io, const std::string& dir, Inspection& out) {
  std::vector<std::string> names;
  if (int err = io.list(dir, names)) return err;
  std::vector<std::pair<uint64_t, std::string>> files;
  std::set<uint64_t> indexes;
  for (const std::string& n : names) {
    uint64_t k = 0;
    if (n.size() == 25 && n.ends_with(".wlog") && std::from_chars(n.data(), n.data() + 20, k).ec == std::errc())
      files.emplace_back(k, n);
    else if (index_number(n, k))
      indexes.insert(k);
  }
  std::sort(files.begin(), files.end());

  // Record sizes of messages by position, while some queue entry may name them.
  std::unordered_map<uint64_t, uint64_t> body_at;
  std::map<uint32_t, std::map<uint64_t, uint64_t>> entries;  // queue -> seq -> body bytes
  std::set<std::string> exchanges;
  std::set<std::tuple<std::string, bool, std::string, std::string>> bindings;
  for (const auto& file : files) {
    const uint64_t number = file.first;  // a plain local: clang 14 cannot capture a structured binding
    const std::string& name = file.second;
    SegmentSummary s;
    s.file = name;
    std::unique_ptr<File> f;
    if (int err = io.open(dir + "/" + name, OpenMode::Read, f)) return err;
    f->size(s.bytes);
    IndexBuilder expected(number);  // what its index must be, from its records
    ScanResult r = scan_segment(*f, [&](uint64_t offset, uint8_t type, std::span<const uint8_t> p) {
      expected.add(offset, type, p, {}, summarize_record);
      const uint64_t key = number << 32 | offset;
      bool ok = true;
      switch (RecordType(type)) {
        case RecordType::Exchange: {
          ExchangeRecord x;
          if ((ok = decode(p, x))) exchanges.insert(x.name);
          break;
        }
        case RecordType::ExchangeDeleted: {
          In in(p);
          exchanges.erase(std::string(in.bytes()));
          ok = in.ok();
          break;
        }
        case RecordType::Queue: {
          QueueRecord q;
          if ((ok = decode(p, q))) out.queues[q.id].name = q.name;
          break;
        }
        case RecordType::QueueDeleted: {
          In in(p);
          const uint32_t id = uint32_t(in.varint());
          out.queues.erase(id);
          entries.erase(id);
          ok = in.ok();
          break;
        }
        case RecordType::Binding:
        case RecordType::Unbinding: {
          BindingRecord b;
          if (!(ok = decode(p, b))) break;
          auto k = std::make_tuple(b.source, b.destination.is_exchange, b.destination.name, b.key);
          RecordType(type) == RecordType::Binding ? void(bindings.insert(k)) : void(bindings.erase(k));
          break;
        }
        case RecordType::Message: {
          body_at[key] = p.size();
          break;
        }
        case RecordType::Enqueue: {
          EnqueueRecord e;
          if (!(ok = decode(p, e))) break;
          auto b = body_at.find(e.message.segment << 32 | e.message.offset);
          entries[e.queue][e.seq] = b == body_at.end() ? 0 : b->second;
          break;
        }
        case RecordType::Remove: {
          RemoveRecord rm;
          if ((ok = decode(p, rm))) entries[rm.queue].erase(rm.seq);
          break;
        }
        case RecordType::Purge: {
          PurgeRecord pu;
          if (!(ok = decode(p, pu))) break;
          auto& es = entries[pu.queue];
          for (auto it = es.begin(); it != es.end() && it->first < pu.before_seq;)
            it = std::find(pu.kept.begin(), pu.kept.end(), it->first) == pu.kept.end() ? es.erase(it) : std::next(it);
          break;
        }
        default: ok = false;
      }
      if (!ok) ++out.undecodable;
    });
    s.unreadable = r.error != 0;
    s.records = r.records;
    s.tail_bytes = r.tail_bytes;
    s.zero_tail = r.zero_tail;
    s.damaged = r.damaged;
    if (indexes.contains(number)) check_index(io, dir, number, r, expected, s);
    out.segments.push_back(std::move(s));
  }
  out.exchanges.assign(exchanges.begin(), exchanges.end());
  out.bindings = bindings.size();
  for (auto& [id, q] : out.queues) {
    auto it = entries.find(id);
    if (it == entries.end()) continue;
    q.messages = it->second.size();
    for (const auto& [_, bytes] : it->second) q.record_bytes += bytes;
  }
  return 0;
}

}  // namespace warren::store
