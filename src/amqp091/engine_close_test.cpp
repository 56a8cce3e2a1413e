// Channel closes that cross, repeat or arrive late (issue 10, part 2).
//
// The spec (0-9-1, 4.2.7 and the channel class): a peer that sent
// channel.close drops every frame on that channel except close and
// close-ok; each side answers the other's close with close-ok; a channel
// is closed for a side when it receives the close-ok for its own close.
// Warren adds: closing a channel that is already closed, or was never
// open, is answered with close-ok (racing threads of one client close
// twice), and a stray close-ok is ignored. Whatever happens on channel 1,
// channel 2 and the connection are untouched.
//
// Every sequence of up to four client frames on channel 1, from an open
// channel and from one the server is closing, is checked step by step
// against a model of those rules.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "amqp091/connection.hpp"
#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

using CloseTest = EngineTest;

// What the client sends on channel 1.
enum class In { Close, CloseOk, Open, Qos, Publish };
constexpr In kInputs[] = {In::Close, In::CloseOk, In::Open, In::Qos, In::Publish};

const char* name(In i) {
  switch (i) {
    case In::Close: return "close";
    case In::CloseOk: return "close-ok";
    case In::Open: return "open";
    case In::Qos: return "qos";
    case In::Publish: return "publish";
  }
  return "?";
}

// The server's view of channel 1.
enum class St { Absent, Open, Closing, ClosingAnswered };

// The server's reply on channel 1, or a connection error.
enum class Out { Nothing, CloseOk, OpenOk, QosOk, ConnectionError };

struct Step {
  St next;
  Out out;
};

Step model(St s, In i) {
  switch (s) {
    case St::Absent:
      switch (i) {
        case In::Close: return {St::Absent, Out::CloseOk};
        case In::CloseOk: return {St::Absent, Out::Nothing};
        case In::Open: return {St::Open, Out::OpenOk};
        case In::Qos: return {St::Absent, Out::ConnectionError};      // 504 expected 'channel.open'
        case In::Publish: return {St::Absent, Out::ConnectionError};  // likewise
      }
      break;
    case St::Open:
      switch (i) {
        case In::Close: return {St::Absent, Out::CloseOk};
        case In::CloseOk: return {St::Open, Out::Nothing};
        case In::Open: return {St::Open, Out::ConnectionError};  // 504 second 'channel.open'
        case In::Qos: return {St::Open, Out::QosOk};
        case In::Publish: return {St::Open, Out::Nothing};  // routed (to a queue nobody reads)
      }
      break;
    case St::Closing:
      switch (i) {
        case In::Close: return {St::ClosingAnswered, Out::CloseOk};
        case In::CloseOk: return {St::Absent, Out::Nothing};
        default: return {St::Closing, Out::Nothing};  // dropped, open included
      }
    case St::ClosingAnswered:
      switch (i) {
        case In::Close: return {St::ClosingAnswered, Out::CloseOk};
        case In::CloseOk: return {St::Absent, Out::Nothing};
        case In::Open: return {St::Open, Out::OpenOk};  // the peer took our close-ok as the end
        default: return {St::ClosingAnswered, Out::Nothing};
      }
  }
  return {s, Out::Nothing};
}

std::string frames_for(In i) {
  switch (i) {
    case In::Close: {
      ChannelClose c;
      c.reply_code = 200;
      c.reply_text = "Goodbye";
      return Peer::frame(1, c);
    }
    case In::CloseOk: return Peer::frame(1, ChannelCloseOk{});
    case In::Open: return Peer::frame(1, ChannelOpen{});
    case In::Qos: return Peer::frame(1, BasicQos{});
    case In::Publish: return Peer::publish_frames(1, "", "sink", "m");
  }
  return {};
}

Out observed(const std::vector<OutFrame>& f) {
  if (f.empty()) return Out::Nothing;
  if (f.size() == 1 && f[0].channel == 0 && f[0].is<ConnectionClose>()) return Out::ConnectionError;
  if (f.size() != 1 || f[0].channel != 1) return Out::ConnectionError;  // never expected
  if (f[0].is<ChannelCloseOk>()) return Out::CloseOk;
  if (f[0].is<ChannelOpenOk>()) return Out::OpenOk;
  if (f[0].is<BasicQosOk>()) return Out::QosOk;
  return Out::ConnectionError;
}

class Sequences : public CloseTest {
 protected:
  // Runs `seq` from `start` (Open, or Closing after a publish to a missing
  // exchange); returns a description of the first divergence, or "".
  std::string run(St start, const std::vector<In>& seq, uint64_t id) {
    auto p = open_peer(id);
    p->open_channel(2);
    if (!queue("sink")) p->declare_queue(2, "sink");
    if (start == St::Closing) {
      p->publish(1, "no-such-exchange", "k", "m");
      std::vector<OutFrame> f = p->take();
      if (f.size() != 1 || !f[0].is<ChannelClose>()) return "no channel.close for the 404: " + names(f);
    }
    St s = start;
    std::string trail = start == St::Closing ? "[server closes]" : "[open]";
    for (In i : seq) {
      trail += std::string(" ") + name(i);
      p->feed(frames_for(i));
      Step want = model(s, i);
      std::vector<OutFrame> got = p->take();
      if (observed(got) != want.out) return trail + ": the server sent [" + names(got) + "]";
      if (want.out == Out::ConnectionError) return {};  // the connection is over; nothing more to check
      s = want.next;
      // Channel 2 and the connection are untouched.
      p->send(2, BasicQos{});
      std::vector<OutFrame> q = p->take();
      if (q.size() != 1 || !q[0].is<BasicQosOk>() || q[0].channel != 2)
        return trail + ": channel 2's qos got [" + names(q) + "]";
      if (p->t.closed) return trail + ": the transport was closed";
    }
    return {};
  }
};

TEST_F(Sequences, EveryClientSequenceOfUpToFourFramesFollowsTheModel) {
  std::vector<std::vector<In>> seqs{{}};
  for (int len = 1; len <= 4; ++len) {
    std::vector<std::vector<In>> longer;
    for (const auto& s : seqs)
      if (s.size() == size_t(len - 1))
        for (In i : kInputs) {
          auto t = s;
          t.push_back(i);
          longer.push_back(std::move(t));
        }
    seqs.insert(seqs.end(), longer.begin(), longer.end());
  }
  ASSERT_EQ(seqs.size(), 1u + 5 + 25 + 125 + 625);
  uint64_t id = 1;
  for (St start : {St::Open, St::Closing})
    for (const auto& seq : seqs) {
      std::string err = run(start, seq, id++);
      ASSERT_EQ(err, "");
    }
}

// The report, frame for frame: a publish to a missing exchange and
// the client's own close cross; channel 2 declares an exchange.
TEST_F(CloseTest, ClosesThatCrossLeaveTheOtherChannelAlone) {
  auto p = open_peer(1);
  p->open_channel(2);
  ChannelClose mine;
  mine.reply_code = 200;
  p->feed(Peer::publish_frames(1, "no-such-exchange", "k", "m") + Peer::frame(1, mine));
  std::vector<OutFrame> f = p->take();
  ASSERT_EQ(f.size(), 2u) << names(f);
  expect_channel_close(f[0], 1, ReplyCode::NotFound);
  EXPECT_TRUE(f[1].is<ChannelCloseOk>());  // the answer to the client's close
  p->send(1, ChannelCloseOk{});            // the client's answer to ours
  EXPECT_TRUE(p->take().empty());
  ExchangeDeclare d;
  d.exchange = "x";
  d.type = "direct";
  p->send(2, d);
  EXPECT_TRUE(p->take_one().is<ExchangeDeclareOk>());
  p->open_channel(1);  // and the number is free again
  EXPECT_FALSE(p->t.closed);
}

TEST_F(CloseTest, ThirtyTwoClosesOfOneChannelAreEachAnswered) {
  auto p = open_peer(1);
  p->open_channel(2);
  std::string burst;
  for (int i = 0; i < 32; ++i) burst += Peer::frame(1, ChannelClose{});
  p->feed(burst);
  std::vector<OutFrame> f = p->take();
  ASSERT_EQ(f.size(), 32u) << names(f);
  for (const OutFrame& o : f) EXPECT_TRUE(o.is<ChannelCloseOk>() && o.channel == 1) << o.name();
  p->send(2, BasicQos{});
  EXPECT_TRUE(p->take_one().is<BasicQosOk>());
}

TEST_F(CloseTest, ThirtyTwoConnectionClosesGetOneCloseOk) {
  auto p = open_peer(1);
  std::string burst;
  for (int i = 0; i < 32; ++i) burst += Peer::frame(0, ConnectionClose{});
  p->feed(burst);
  std::vector<OutFrame> f = p->take();
  ASSERT_EQ(f.size(), 1u) << names(f);
  EXPECT_TRUE(f[0].is<ConnectionCloseOk>());
  EXPECT_TRUE(p->t.closed);
  EXPECT_EQ(p->t.sends_after_close, 0u);
}

// Publishes before a client's connection.close are routed, and confirmed
// before close-ok; frames after it are dropped.
TEST_F(CloseTest, ConnectionCloseConfirmsWhatCameBeforeAndDropsWhatCameAfter) {
  auto p = open_peer(1);
  p->declare_queue(1, "q");
  p->send(1, ConfirmSelect{});
  ASSERT_TRUE(p->take_one().is<ConfirmSelectOk>());
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += Peer::publish_frames(1, "", "q", "before");
  burst += Peer::frame(0, ConnectionClose{});
  for (int i = 0; i < 100; ++i) burst += Peer::publish_frames(1, "", "q", "after");
  p->feed(burst);
  std::vector<OutFrame> f = p->take();
  ASSERT_EQ(f.size(), 2u) << names(f);
  auto ack = f[0].as<BasicAck>();
  ASSERT_TRUE(ack.has_value()) << names(f);
  EXPECT_EQ(ack->delivery_tag, 100u);
  EXPECT_TRUE(ack->multiple);
  EXPECT_TRUE(f[1].is<ConnectionCloseOk>());
  ASSERT_NE(queue("q"), nullptr);
  EXPECT_EQ(queue("q")->ready_count(), 100u);
}

}  // namespace
}  // namespace warren::amqp091::test
