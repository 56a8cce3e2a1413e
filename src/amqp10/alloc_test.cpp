// The hot path allocates nothing: parsing transfer, flow and disposition
// frames (delivery tags up to 15 bytes, an accepted state) and appending a
// transfer to an output string that already has room. Counted by replacing
// operator new.
#include <gtest/gtest.h>

#include "amqp10/frame.hpp"
#include "amqp10/message.hpp"
#include "common/testing/count_allocations.hpp"

namespace warren::amqp10 {
namespace {

std::string traffic() {
  std::string in;
  std::string message;
  Encoder e(message);
  encode_header(e, Header{.durable = true});
  encode_data_section(e, as_bytes("hello"));
  for (uint32_t id = 1; id <= 3; ++id) {
    Transfer t;
    t.handle = 0;
    t.delivery_id = id;
    t.delivery_tag = std::string(15, char('a' + id));  // as long as the small buffer holds
    t.message_format = 0;
    t.settled = false;
    append_transfer(in, 1, t, as_bytes(message));
  }
  Flow flow;
  flow.next_incoming_id = 4;
  flow.incoming_window = 2048;
  flow.next_outgoing_id = 1;
  flow.outgoing_window = 2048;
  flow.handle = 0;
  flow.delivery_count = 3;
  flow.link_credit = 100;
  append_frame(in, FrameType::Amqp, 1, flow);
  Disposition d;
  d.role = role::kReceiver;
  d.first = 1;
  d.last = 3;
  d.settled = true;
  d.state = Accepted{}.to_value();
  append_frame(in, FrameType::Amqp, 1, d);
  d.first = 4;
  d.last.reset();
  append_frame(in, FrameType::Amqp, 1, d);
  // (A symbolic descriptor, "amqp:accepted:list", is longer than the small
  // string buffer: peers that send it cost one allocation per state.)
  return in;
}

TEST(Amqp10HotPath, ParsingAllocatesNothing) {
  const std::string in = traffic();
  Frame f;
  MessageSections sections;
  std::string error;
  int transfers = 0, flows = 0, dispositions = 0, durable = 0;
  // Warm up once (sections.header's optional etc. hold no heap memory anyway).
  const uint64_t before = warren::testing::allocations();
  std::span<const uint8_t> rest = as_bytes(in);
  while (!rest.empty()) {
    ParseResult r = parse_frame(rest, 65536, f);
    ASSERT_EQ(r.status, ParseStatus::Ok);
    rest = rest.subspan(r.consumed);
    if (auto* t = std::get_if<Transfer>(&f.body)) {
      ++transfers;
      EXPECT_EQ(t->delivery_tag->size(), 15u);
      ASSERT_TRUE(split_message(f.payload, sections, error));
      durable += sections.header && sections.header->durable.value_or(false);
    } else if (std::holds_alternative<Flow>(f.body)) {
      ++flows;
    } else if (auto* d = std::get_if<Disposition>(&f.body)) {
      ++dispositions;
      EXPECT_TRUE(d->state && d->state->has_descriptor(Accepted::kCode, Accepted::kSymbol));
    }
  }
  const uint64_t used = warren::testing::allocations() - before;
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(transfers, 3);
  EXPECT_EQ(durable, 3);
  EXPECT_EQ(flows, 1);
  EXPECT_EQ(dispositions, 2);
}

TEST(Amqp10HotPath, AppendingATransferAllocatesNothing) {
  std::string out;
  out.reserve(4096);
  Transfer t;
  t.handle = 3;
  t.delivery_id = 123456;
  t.delivery_tag = "12345678";
  t.message_format = 0;
  t.settled = true;
  const std::string payload(1000, 'p');
  const uint64_t before = warren::testing::allocations();
  for (int i = 0; i < 3; ++i) append_transfer(out, 2, t, as_bytes(payload));
  EXPECT_EQ(warren::testing::allocations() - before, 0u);
  EXPECT_GT(out.size(), 3000u);
}

}  // namespace
}  // namespace warren::amqp10
