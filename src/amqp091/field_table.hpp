#pragma once
// Field tables: the typed key/value maps of AMQP 0-9-1 (queue arguments,
// message headers, peer properties), with RabbitMQ's type letters.
//
// Two forms. `FieldTable` owns decoded values. `TableView` is a table's
// encoded bytes as they arrived: a method or a content header carries one
// without decoding it, a broker forwards it verbatim, and code that needs
// the values decodes it on demand.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "amqp091/wire.hpp"

namespace warren::amqp091 {

struct FieldValue;
struct FieldEntry;

struct Decimal {  // value / 10^scale
  uint8_t scale = 0;
  uint32_t value = 0;
  bool operator==(const Decimal&) const = default;
};
struct Timestamp {  // seconds since the epoch; its own type so it keeps its letter 'T'
  uint64_t seconds = 0;
  bool operator==(const Timestamp&) const = default;
};
struct Void {  // 'V': a key with no value
  bool operator==(const Void&) const = default;
};
struct ByteArray {  // 'x': bytes, as opposed to the string 'S'
  std::string bytes;
  bool operator==(const ByteArray&) const = default;
};
using FieldArray = std::vector<FieldValue>;

// Entries in wire order. Duplicate keys can arrive; find() sees the first.
// (Members that touch the entries are defined below FieldEntry: the entry
// type is incomplete here, and clang instantiates eagerly.)
class FieldTable {
 public:
  using const_iterator = std::vector<FieldEntry>::const_iterator;

  FieldTable();
  FieldTable(std::initializer_list<FieldEntry> entries);
  FieldTable(const FieldTable&);
  FieldTable(FieldTable&&) noexcept;
  FieldTable& operator=(const FieldTable&);
  FieldTable& operator=(FieldTable&&) noexcept;
  ~FieldTable();

  const FieldValue* find(std::string_view key) const;
  FieldValue* find(std::string_view key);
  // Replaces the first entry with this key, or appends one.
  void set(std::string_view key, FieldValue value);
  void add(std::string key, FieldValue value);  // appends, even if the key exists

  size_t size() const;
  bool empty() const;
  void clear();
  const std::vector<FieldEntry>& entries() const { return entries_; }
  const_iterator begin() const;
  const_iterator end() const;

  bool operator==(const FieldTable& o) const;

 private:
  std::vector<FieldEntry> entries_;
};

using FieldVariant = std::variant<bool,         // t
                                  int8_t,       // b
                                  uint8_t,      // B
                                  int16_t,      // s
                                  uint16_t,     // u
                                  int32_t,      // I
                                  uint32_t,     // i
                                  int64_t,      // l
                                  float,        // f
                                  double,       // d
                                  Decimal,      // D
                                  std::string,  // S
                                  FieldArray,   // A
                                  Timestamp,    // T
                                  FieldTable,   // F
                                  Void,         // V
                                  ByteArray>;   // x

struct FieldValue : FieldVariant {
  using FieldVariant::FieldVariant;
  FieldValue() : FieldVariant(Void{}) {}
  const FieldVariant& variant() const { return *this; }
  char type() const;  // the type letter
  bool operator==(const FieldValue& o) const { return variant() == o.variant(); }
};

struct FieldEntry {
  std::string key;
  FieldValue value;
  bool operator==(const FieldEntry&) const = default;
};

inline FieldTable::FieldTable() = default;
inline FieldTable::FieldTable(std::initializer_list<FieldEntry> entries) : entries_(entries) {}
inline FieldTable::FieldTable(const FieldTable&) = default;
inline FieldTable::FieldTable(FieldTable&&) noexcept = default;
inline FieldTable& FieldTable::operator=(const FieldTable&) = default;
inline FieldTable& FieldTable::operator=(FieldTable&&) noexcept = default;
inline FieldTable::~FieldTable() = default;
inline size_t FieldTable::size() const { return entries_.size(); }
inline bool FieldTable::empty() const { return entries_.empty(); }
inline void FieldTable::clear() { entries_.clear(); }
inline FieldTable::const_iterator FieldTable::begin() const { return entries_.begin(); }
inline FieldTable::const_iterator FieldTable::end() const { return entries_.end(); }
inline bool FieldTable::operator==(const FieldTable& o) const { return entries_ == o.entries_; }

// Limits on what a hostile peer can make a decode do.
struct TableLimits {
  uint32_t max_depth = 32;          // tables and arrays nested in each other
  uint32_t max_values = 1u << 16;   // values in the whole table, at every level
};

// Encodes the entries only (what a TableView holds). False if a key or
// string is too long for its prefix (a caller bug); `out` is then unchanged.
bool encode_table_entries(std::string& out, const FieldTable& table);
// The table with its 4-octet length, as it sits in a method or properties.
bool encode_table(std::string& out, const FieldTable& table);
// Decodes a table's entries (without the length prefix), replacing `out`.
DecodeStatus decode_table_entries(std::span<const uint8_t> entries, FieldTable& out,
                                  const TableLimits& limits = {});

// A table's encoded entries, not decoded. Views the caller's bytes: valid as
// long as they are. A default TableView is the empty table.
class TableView {
 public:
  TableView() = default;
  explicit TableView(std::span<const uint8_t> entries) : bytes_(entries) {}
  explicit TableView(std::string_view entries) : bytes_(as_bytes(entries)) {}

  std::span<const uint8_t> bytes() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }
  DecodeStatus decode(FieldTable& out, const TableLimits& limits = {}) const {
    return decode_table_entries(bytes_, out, limits);
  }
  // Is there a top-level entry with this key? Skips values without decoding
  // them; false for a malformed table.
  bool has_key(std::string_view key) const;
  bool operator==(const TableView& o) const {
    return bytes_.size() == o.bytes_.size() && std::equal(bytes_.begin(), bytes_.end(), o.bytes_.begin());
  }

 private:
  std::span<const uint8_t> bytes_;
};

// A table field inside a method or properties: length, then entries.
inline bool read_table(Reader& r, TableView& v) {
  std::span<const uint8_t> b;
  if (!r.longbytes(b)) return false;
  v = TableView(b);
  return true;
}
inline void write_table(Writer& w, TableView v) {
  w.u32(uint32_t(v.bytes().size()));
  w.bytes(v.bytes());
}

}  // namespace warren::amqp091
