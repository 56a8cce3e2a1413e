// Writes the seed corpus of fuzz_amqp091_engine: a few valid sessions of
// client A, encoded with the codec, in the fuzzer's input format (see
// fuzz_amqp091_engine.cpp).
//
//   make_engine_corpus fuzz/corpus/fuzz_amqp091_engine
//
// Built by the fuzz sub-build beside the fuzzers; the seeds are committed.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "amqp091/field_table.hpp"
#include "amqp091/frame.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"

using namespace warren::amqp091;

namespace {

enum : uint8_t { kFeed = 0, kWait = 4, kSettle = 5, kOutput = 6, kSocket = 7 };

class Seed {
 public:
  // mode: see the fuzzer. 1: handshake prefix, frame_max 131072, no heartbeat.
  explicit Seed(uint8_t mode) { bytes_.push_back(char(mode)); }

  template <class M>
  Seed& method(uint16_t ch, const M& m) {
    std::string f;
    if (!append_method_frame(f, ch, m)) std::abort();
    return feed(f);
  }
  Seed& publish(uint16_t ch, std::string_view exchange, std::string_view key, std::string_view body,
                const BasicProperties& props = {}, bool mandatory = false, uint32_t frame_max = 131072) {
    BasicPublish p;
    p.exchange = exchange;
    p.routing_key = key;
    p.mandatory = mandatory;
    std::string f;
    append_method_frame(f, ch, p);
    size_t at = begin_frame(f, kFrameHeader, ch);
    encode_content_header(f, body.size(), props);
    end_frame(f, at);
    append_body_frames(f, ch, as_bytes(body), frame_max);
    return feed(f);
  }
  // Raw bytes for A, in records of at most 255 octets (so frames are split).
  Seed& feed(std::string_view b) {
    while (!b.empty()) {
      size_t n = std::min<size_t>(b.size(), 255);
      bytes_.push_back(char(kFeed));
      bytes_.push_back(char(n));
      bytes_.append(b.substr(0, n));
      b.remove_prefix(n);
    }
    return *this;
  }
  Seed& op(uint8_t ctl, uint8_t arg) {
    bytes_.push_back(char(ctl));
    bytes_.push_back(char(arg));
    return *this;
  }
  Seed& wait_ms(unsigned ms) { return op(kWait, uint8_t(ms / 50)); }

  void write(const std::string& dir, const char* name) const {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out << bytes_;
    if (!out) {
      std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name);
      std::exit(1);
    }
  }

 private:
  std::string bytes_;
};

std::string handshake_frames(uint32_t frame_max, uint16_t heartbeat) {
  std::string out(as_chars(kProtocolHeader));
  ConnectionStartOk s;
  s.response = std::string_view("\0guest\0guest", 12);
  append_method_frame(out, 0, s);
  ConnectionTuneOk t;
  t.channel_max = 2047;
  t.frame_max = frame_max;
  t.heartbeat = heartbeat;
  append_method_frame(out, 0, t);
  append_method_frame(out, 0, ConnectionOpen{});
  append_method_frame(out, 1, ChannelOpen{});
  return out;
}

std::string table(const FieldTable& t) {
  std::string out;
  encode_table_entries(out, t);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  // Publish into B's queue; B acks, nacks, stalls; A gets what is left.
  {
    Seed s(1);
    for (int i = 0; i < 4; ++i) s.publish(1, "", "q", "message " + std::to_string(i));
    s.op(kSettle, 0).wait_ms(100).op(kSettle, 1).op(kOutput, 0);
    s.publish(1, "", "q", std::string(3000, 'x'));
    s.op(kOutput, 1).op(kSettle, 0);
    BasicGet g;
    g.queue = "q";
    s.method(1, g).method(1, g);
    s.write(dir, "publish-to-b");
  }
  // Declare, bind, confirms, a mandatory return, consume and ack on A.
  {
    Seed s(1);
    ExchangeDeclare x;
    x.exchange = "logs";
    x.type = "topic";
    s.method(1, x);
    QueueDeclare d;
    d.queue = "work";
    std::string args = table({{"x-max-length", int32_t(2)}, {"x-overflow", std::string("reject-publish")}});
    d.arguments = TableView(args);
    s.method(1, d);
    QueueBind b;
    b.queue = "work";
    b.exchange = "logs";
    b.routing_key = "a.*";
    s.method(1, b);
    s.method(1, ConfirmSelect{});
    BasicProperties props;
    props.content_type = "text/plain";
    props.delivery_mode = 2;
    props.headers = FieldTable{{"k", std::string("v")}};
    props.expiration = "5000";
    s.publish(1, "logs", "a.b", "one", props).publish(1, "logs", "a.c", "two").publish(1, "logs", "a.d", "three");
    s.publish(1, "logs", "b.x", "unroutable", {}, /*mandatory=*/true);
    BasicQos q;
    q.prefetch_count = 1;
    s.method(1, q);
    BasicConsume c;
    c.queue = "work";
    s.method(1, c);
    BasicAck a;
    a.delivery_tag = 1;
    s.method(1, a);
    a.delivery_tag = 2;
    s.method(1, a);
    s.wait_ms(6000);
    s.write(dir, "confirms-consume-ack");
  }
  // Transactions and a second channel; a channel error and its close-ok.
  {
    Seed s(1);
    s.method(1, TxSelect{});
    s.publish(1, "", "q", "rolled back").method(1, TxRollback{});
    s.publish(1, "", "q", "committed").method(1, TxCommit{});
    s.method(2, ChannelOpen{});
    QueueDeclare d;
    d.queue = "missing";
    d.passive = true;
    s.method(2, d).method(2, ChannelCloseOk{}).method(2, ChannelOpen{});
    d.queue = "";
    d.passive = false;
    d.exclusive = true;
    s.method(2, d);
    BasicConsume c;
    c.no_ack = true;
    s.method(2, c);
    s.publish(2, "", "q", "to b");
    s.op(kSocket, 0);  // B reconnects
    ChannelClose cc;
    cc.reply_code = 200;
    s.method(1, cc).method(0, ConnectionClose{});
    s.write(dir, "tx-channels-close");
  }
  // No prefix: the handshake as stream, frame_max 4096, heartbeats, a body
  // cut into frames, then silence until the heartbeat timeout.
  {
    Seed s(0);
    s.feed(handshake_frames(4096, 1));
    s.publish(1, "", "q", std::string(6000, 'b'), {}, false, 4096);
    s.wait_ms(1000).feed(std::string("\x08\x00\x00\x00\x00\x00\x00\xce", 8)).wait_ms(1000).wait_ms(1000);
    s.wait_ms(3000);
    s.write(dir, "raw-heartbeat-timeout");
  }
  // A consumes from "q" too, holding deliveries when its socket goes.
  {
    Seed s(1 | 1 << 3);  // heartbeat 1 s
    BasicConsume c;
    c.queue = "q";
    c.consumer_tag = "a";
    s.method(1, c);
    for (int i = 0; i < 6; ++i) s.publish(1, "", "q", "m" + std::to_string(i));
    s.op(kOutput, 2).op(kOutput, 3);  // memory alarm on, off
    s.op(kSocket, 1);
    s.write(dir, "a-consumes-and-goes");
  }
  return 0;
}
