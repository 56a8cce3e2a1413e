// split_message: messages with and without each section, the three body
// kinds, and sections out of the order of part 3.2.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "amqp10/codec_test_util.hpp"
#include "amqp10/message.hpp"

namespace warren::amqp10 {
namespace {

enum Section { kHeader, kDeliveryAnnotations, kMessageAnnotations, kProperties, kAppProperties, kBody, kFooter };

Header sample_header() { return Header{.durable = true, .priority = 4, .ttl = 60000}; }

Properties sample_properties() {
  Properties p;
  p.message_id = Value::string("id-1");
  p.to = Value::string("/queues/q");
  p.content_type = "text/plain";
  p.creation_time = 1700000000000;
  return p;
}

Value sample_app_properties() { return Value::map({{Value::string("colour"), Value::string("red")}}); }

void encode_annotations(Encoder& e, uint64_t code) {
  e.write_descriptor(code);
  e.write_value(Value::map({{Value::symbol("x-opt-a"), Value::uint(1)}}));
}

// The sections whose bits are set in `mask`, in order; [begin, end) of each.
std::string build(unsigned mask, size_t (&begin)[7], size_t (&end)[7]) {
  std::string out;
  Encoder e(out);
  for (int s = kHeader; s <= kFooter; ++s) {
    begin[s] = end[s] = out.size();
    if (!(mask & (1u << s))) continue;
    switch (s) {
      case kHeader: encode_header(e, sample_header()); break;
      case kDeliveryAnnotations: encode_annotations(e, kDeliveryAnnotationsCode); break;
      case kMessageAnnotations: encode_annotations(e, kMessageAnnotationsCode); break;
      case kProperties: encode_properties(e, sample_properties()); break;
      case kAppProperties: encode_application_properties(e, sample_app_properties()); break;
      case kBody:
        encode_data_section(e, as_bytes("hello "));
        encode_data_section(e, as_bytes("world"));
        break;
      case kFooter: encode_annotations(e, kFooterCode); break;
    }
    end[s] = out.size();
  }
  return out;
}

TEST(Amqp10SplitMessage, WithAndWithoutEachSection) {
  for (unsigned mask = 0; mask < 128; ++mask) {
    SCOPED_TRACE(mask);
    size_t begin[7], end[7];
    const std::string bytes = build(mask, begin, end);
    const auto all = as_bytes(bytes);
    MessageSections m;
    std::string error;
    ASSERT_TRUE(split_message(all, m, error)) << error;
    auto span_of = [&](int s) { return as_chars(all.subspan(begin[s], end[s] - begin[s])); };
    EXPECT_EQ(m.header.has_value(), bool(mask & (1u << kHeader)));
    if (m.header) {
      EXPECT_TRUE(*m.header == sample_header());
    }
    EXPECT_EQ(as_chars(m.delivery_annotations), span_of(kDeliveryAnnotations));
    EXPECT_EQ(as_chars(m.message_annotations), span_of(kMessageAnnotations));
    EXPECT_EQ(m.properties.has_value(), bool(mask & (1u << kProperties)));
    if (m.properties) {
      EXPECT_TRUE(*m.properties == sample_properties());
    }
    EXPECT_EQ(m.application_properties.has_value(), bool(mask & (1u << kAppProperties)));
    if (m.application_properties) {
      EXPECT_EQ(*m.application_properties, sample_app_properties());
    }
    EXPECT_EQ(as_chars(m.body), span_of(kBody));
    EXPECT_EQ(as_chars(m.footer), span_of(kFooter));
    // The bare message: properties through body, whichever are there.
    size_t bare_begin = SIZE_MAX, bare_end = 0;
    for (int s : {kProperties, kAppProperties, kBody}) {
      if (!(mask & (1u << s))) continue;
      bare_begin = std::min(bare_begin, begin[s]);
      bare_end = std::max(bare_end, end[s]);
    }
    if (bare_begin == SIZE_MAX) {
      EXPECT_TRUE(m.bare.empty());
    } else {
      EXPECT_EQ(as_chars(m.bare), as_chars(all.subspan(bare_begin, bare_end - bare_begin)));
    }
  }
}

std::string sections(std::initializer_list<void (*)(Encoder&)> writers) {
  std::string out;
  Encoder e(out);
  for (auto w : writers) w(e);
  return out;
}

void header(Encoder& e) { encode_header(e, sample_header()); }
void properties(Encoder& e) { encode_properties(e, sample_properties()); }
void data(Encoder& e) { encode_data_section(e, as_bytes("d")); }
void value(Encoder& e) { encode_amqp_value_section(e, Value::string("v")); }
void sequence(Encoder& e) {
  e.write_descriptor(kAmqpSequenceCode);
  e.write_value(Value::list({Value::uint(1)}));
}
void footer(Encoder& e) { encode_annotations(e, kFooterCode); }
void message_annotations(Encoder& e) { encode_annotations(e, kMessageAnnotationsCode); }

bool splits(const std::string& bytes, std::string* error_out = nullptr) {
  MessageSections m;
  std::string error;
  bool ok = split_message(as_bytes(bytes), m, error);
  EXPECT_EQ(ok, error.empty()) << error;
  if (error_out) *error_out = error;
  return ok;
}

TEST(Amqp10SplitMessage, BodyKinds) {
  EXPECT_TRUE(splits(sections({value})));
  EXPECT_TRUE(splits(sections({sequence, sequence})));
  EXPECT_TRUE(splits(sections({data, data, data})));
  EXPECT_FALSE(splits(sections({value, value})));
  EXPECT_FALSE(splits(sections({data, value})));
  EXPECT_FALSE(splits(sections({sequence, data})));
  MessageSections m;
  std::string error;
  const std::string v = sections({properties, value, footer});
  ASSERT_TRUE(split_message(as_bytes(v), m, error));
  EXPECT_EQ(hex_of(as_chars(m.body)), "005377a10176");
}

TEST(Amqp10SplitMessage, SectionsOutOfOrder) {
  std::string error;
  EXPECT_FALSE(splits(sections({properties, header}), &error));
  EXPECT_EQ(error, "header section out of order");
  EXPECT_FALSE(splits(sections({header, header})));
  EXPECT_FALSE(splits(sections({data, properties})));
  EXPECT_FALSE(splits(sections({footer, data})));
  EXPECT_FALSE(splits(sections({properties, message_annotations})));
  EXPECT_FALSE(splits(sections({data, footer, footer})));
}

TEST(Amqp10SplitMessage, MalformedSections) {
  EXPECT_FALSE(splits(unhex("a10178")));                // not described
  EXPECT_FALSE(splits(unhex("005399" "45")));           // unknown section
  EXPECT_FALSE(splits(unhex("005372" "45")));           // annotations that are not a map
  EXPECT_FALSE(splits(unhex("005376" "a10178")));       // amqp-sequence that is not a list
  EXPECT_FALSE(splits(unhex("005375" "a10178")));       // data that is not binary
  EXPECT_FALSE(splits(unhex("005374" "45")));           // application-properties that are not a map
  EXPECT_FALSE(splits(unhex("005370" "c00501")));       // truncated header
  EXPECT_TRUE(splits(""));                              // no sections at all
  // Symbolic descriptors.
  EXPECT_TRUE(splits(unhex("00a310") + "amqp:data:binary" + unhex("a00178")));
  // Cut anywhere but between sections, a message does not split.
  std::string full;
  std::set<size_t> boundaries = {0};
  for (auto w : {header, message_annotations, properties, data, footer}) {
    full += sections({w});
    boundaries.insert(full.size());
  }
  for (size_t n = 1; n < full.size(); ++n) EXPECT_EQ(splits(full.substr(0, n)), boundaries.count(n) == 1) << n;
}

}  // namespace
}  // namespace warren::amqp10
