#include "amqp091/field_table.hpp"

#include <bit>
#include <utility>

namespace warren::amqp091 {
namespace {

// Type letters in the order of FieldVariant's alternatives.
constexpr std::string_view kLetters = "tbBsuIilfdDSATFVx";
static_assert(kLetters.size() == std::variant_size_v<FieldVariant>);

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;  // clang 14 lacks aggregate deduction

struct Decoder {
  const TableLimits& limits;
  uint32_t values = 0;
  DecodeStatus status;

  bool fail(std::string_view text) {
    status = syntax_error(text);
    return false;
  }

  bool entries(Reader& r, FieldTable& out, uint32_t depth) {
    while (!r.empty()) {
      std::string_view key;
      uint8_t type;
      if (!r.shortstr(key) || !r.octet(type)) return fail("field table: truncated entry");
      FieldValue v;
      if (!value(r, char(type), v, depth)) return false;
      out.add(std::string(key), std::move(v));
    }
    return true;
  }

  bool array(Reader& r, FieldArray& out, uint32_t depth) {
    while (!r.empty()) {
      uint8_t type;
      r.octet(type);
      if (!value(r, char(type), out.emplace_back(), depth)) return false;
    }
    return true;
  }

  // A nested table or array: its 4-octet length, then its contents.
  bool nested(Reader& r, Reader& inner, uint32_t depth) {
    std::span<const uint8_t> b;
    if (!r.longbytes(b)) return fail("field table: truncated value");
    if (depth + 1 > limits.max_depth) return fail("field table: nested too deeply");
    inner = Reader(b);
    return true;
  }

  bool value(Reader& r, char type, FieldValue& out, uint32_t depth) {
    if (++values > limits.max_values) return fail("field table: too many values");
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    std::span<const uint8_t> b;
    Reader inner;
    bool ok = true;
    switch (type) {
      case 't': ok = r.octet(u8); out = u8 != 0; break;
      case 'b': ok = r.octet(u8); out = int8_t(u8); break;
      case 'B': ok = r.octet(u8); out = u8; break;
      case 's': ok = r.u16(u16); out = int16_t(u16); break;
      case 'u': ok = r.u16(u16); out = u16; break;
      case 'I': ok = r.u32(u32); out = int32_t(u32); break;
      case 'i': ok = r.u32(u32); out = u32; break;
      case 'l': ok = r.u64(u64); out = int64_t(u64); break;
      case 'f': ok = r.u32(u32); out = std::bit_cast<float>(u32); break;
      case 'd': ok = r.u64(u64); out = std::bit_cast<double>(u64); break;
      case 'D': ok = r.octet(u8) && r.u32(u32); out = Decimal{u8, u32}; break;
      case 'S': ok = r.longbytes(b); out = std::string(as_chars(b)); break;
      case 'T': ok = r.u64(u64); out = Timestamp{u64}; break;
      case 'V': out = Void{}; break;
      case 'x': ok = r.longbytes(b); out = ByteArray{std::string(as_chars(b))}; break;
      case 'A':
        return nested(r, inner, depth) && array(inner, out.emplace<FieldArray>(), depth + 1);
      case 'F':
        return nested(r, inner, depth) && entries(inner, out.emplace<FieldTable>(), depth + 1);
      default:
        return fail("field table: unknown field type");
    }
    return ok || fail("field table: truncated value");
  }
};

void encode_value(Writer& w, const FieldValue& v);

void encode_entries(Writer& w, const FieldTable& t) {
  for (const FieldEntry& e : t) {
    w.shortstr(e.key);
    encode_value(w, e.value);
  }
}

void encode_value(Writer& w, const FieldValue& v) {
  w.octet(uint8_t(kLetters[v.index()]));
  std::visit(Overload{
                 [&](bool x) { w.octet(x ? 1 : 0); },
                 [&](int8_t x) { w.octet(uint8_t(x)); },
                 [&](uint8_t x) { w.octet(x); },
                 [&](int16_t x) { w.u16(uint16_t(x)); },
                 [&](uint16_t x) { w.u16(x); },
                 [&](int32_t x) { w.u32(uint32_t(x)); },
                 [&](uint32_t x) { w.u32(x); },
                 [&](int64_t x) { w.u64(uint64_t(x)); },
                 [&](float x) { w.u32(std::bit_cast<uint32_t>(x)); },
                 [&](double x) { w.u64(std::bit_cast<uint64_t>(x)); },
                 [&](const Decimal& x) { w.octet(x.scale), w.u32(x.value); },
                 [&](const std::string& x) { w.longstr(x); },
                 [&](const FieldArray& x) {
                   size_t at = w.begin_length();
                   for (const FieldValue& e : x) encode_value(w, e);
                   w.end_length(at);
                 },
                 [&](const Timestamp& x) { w.u64(x.seconds); },
                 [&](const FieldTable& x) {
                   size_t at = w.begin_length();
                   encode_entries(w, x);
                   w.end_length(at);
                 },
                 [&](const Void&) {},
                 [&](const ByteArray& x) { w.longstr(x.bytes); },
             },
             v.variant());
}

}  // namespace

char FieldValue::type() const { return kLetters[index()]; }

const FieldValue* FieldTable::find(std::string_view key) const {
  for (const FieldEntry& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

FieldValue* FieldTable::find(std::string_view key) {
  return const_cast<FieldValue*>(std::as_const(*this).find(key));
}

void FieldTable::set(std::string_view key, FieldValue value) {
  if (FieldValue* v = find(key))
    *v = std::move(value);
  else
    entries_.push_back({std::string(key), std::move(value)});
}

void FieldTable::add(std::string key, FieldValue value) { entries_.push_back({std::move(key), std::move(value)}); }

bool encode_table_entries(std::string& out, const FieldTable& table) {
  Writer w(out);
  encode_entries(w, table);
  return w.finish();
}

bool encode_table(std::string& out, const FieldTable& table) {
  Writer w(out);
  size_t at = w.begin_length();
  encode_entries(w, table);
  w.end_length(at);
  return w.finish();
}

bool TableView::has_key(std::string_view key) const {
  Reader r(bytes_);
  while (!r.empty()) {
    std::string_view k;
    uint8_t type;
    if (!r.shortstr(k) || !r.octet(type)) return false;
    if (k == key) return true;
    size_t fixed = 0;
    switch (char(type)) {
      case 'V': break;
      case 't': case 'b': case 'B': fixed = 1; break;
      case 's': case 'u': fixed = 2; break;
      case 'I': case 'i': case 'f': fixed = 4; break;
      case 'D': fixed = 5; break;
      case 'l': case 'd': case 'T': fixed = 8; break;
      case 'S': case 'x': case 'A': case 'F': {
        uint32_t n;
        if (!r.u32(n)) return false;
        fixed = n;
        break;
      }
      default: return false;
    }
    if (!r.skip(fixed)) return false;
  }
  return false;
}

DecodeStatus decode_table_entries(std::span<const uint8_t> entries, FieldTable& out, const TableLimits& limits) {
  out.clear();
  Decoder d{limits};
  Reader r(entries);
  if (limits.max_depth == 0) return syntax_error("field table: nested too deeply");
  d.entries(r, out, 1);
  return d.status;
}

}  // namespace warren::amqp091
