// PageReader: paged-out messages back from the log.
#include "store/page_reader.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "store/records.hpp"
#include "store/segment.hpp"

namespace warren::store {

using broker::Message;
using broker::MessagePtr;

namespace {
constexpr size_t kOpenFiles = 8;
}

File* PageReader::file(uint32_t segment, int& err) {
  if (auto it = files_.find(segment); it != files_.end()) return it->second.get();
  // Reads go forward: the lowest segment is the one done with.
  if (files_.size() >= kOpenFiles) files_.erase(files_.begin());
  std::unique_ptr<File> f;
  if ((err = io_.open(segment_path(dir_, segment), OpenMode::Read, f))) return nullptr;
  return files_.emplace(segment, std::move(f)).first->second.get();
}

void PageReader::fail(Message::Stored at, std::string what, std::vector<Damage>& damage) {
  damage.push_back(Damage{segment_path(dir_, at.segment), at.offset, 0, "paged message unreadable: " + what});
}

MessagePtr PageReader::decode(Message::Stored at, uint8_t type, std::span<const uint8_t> payload,
                              std::vector<Damage>& damage) {
  MessagePtr m = type == uint8_t(RecordType::Message) ? decode_message(payload, codecs_) : nullptr;
  if (!m) return fail(at, "not a message record", damage), nullptr;
  m->set_stored(at);
  return m;
}

MessagePtr PageReader::read_one(Message::Stored at, std::vector<Damage>& damage) {
  int err = 0;
  File* f = file(at.segment, err);
  uint8_t type = 0;
  std::vector<uint8_t> payload;
  if (f) err = read_record(*f, at.offset, type, payload);
  if (err) return fail(at, err == EBADMSG ? "damaged" : std::strerror(err), damage), nullptr;
  return decode(at, type, payload, damage);
}

// One read covers a run of records in the same segment, each after the
// last and within kSpan of the first; a record that does not fit whole is
// read on its own.
void PageReader::read(std::span<const Message::Stored> at, std::vector<MessagePtr>& out, std::vector<Damage>& damage) {
  out.clear();
  out.reserve(at.size());
  size_t i = 0;
  while (i < at.size()) {
    const Message::Stored first = at[i];
    int err = 0;
    File* f = file(first.segment, err);
    size_t got = 0;
    if (f) {
      buffer_.resize(kSpan);
      err = f->read_at(buffer_, first.offset, got);
    }
    if (err) {
      fail(first, std::strerror(err), damage);
      out.push_back(nullptr);
      ++i;
      continue;
    }
    const std::span<const uint8_t> chunk(buffer_.data(), got);
    size_t j = i;
    for (; j < at.size() && at[j].segment == first.segment && at[j].offset >= first.offset &&
           at[j].offset - first.offset < got;
         ++j) {
      uint8_t type = 0;
      std::span<const uint8_t> payload;
      if (!record_at(chunk.subspan(at[j].offset - first.offset), type, payload)) break;  // past the chunk, or damaged
      out.push_back(decode(at[j], type, payload, damage));
    }
    if (j == i) out.push_back(read_one(at[j++], damage));
    i = j;
  }
}

}  // namespace warren::store
