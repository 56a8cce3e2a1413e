#include "amqp091/preparse.hpp"

#include <algorithm>

#include "amqp091/convert.hpp"

namespace warren::amqp091 {

size_t Preparser::cut(std::span<const uint8_t> in, FrameBatch& out) {
  out.clear();
  if (failed_) {
    out.raw_tail = in;
    return in.size();
  }
  FrameReader reader(in, frame_max_);
  Frame f;
  while (reader.next(f)) out.frames.push_back(f);
  size_t used = reader.consumed();
  if (reader.failed()) {  // the engine reports it, with its own limit
    failed_ = true;
    out.raw_tail = in.subspan(used);
    used = in.size();
  } else if (in.size() - used >= kFrameHeaderSize) {
    out.pending_header = in.subspan(used, kFrameHeaderSize);
  }
  find_publishes(out);
  return used;
}

namespace {

// basic.publish's method id, as the payload starts.
constexpr uint8_t kPublishId[4] = {0, kClassBasic, 0, 40};

bool is_publish(const Frame& f) {
  return f.type == kFrameMethod && f.channel != 0 && f.payload.size() >= 4 &&
         std::equal(f.payload.begin(), f.payload.begin() + 4, kPublishId);
}

}  // namespace

// A publish is taken only when its frames are all in this batch, in a row;
// anything else stays single frames for the engine.
void Preparser::find_publishes(FrameBatch& out) const {
  const std::vector<Frame>& fs = out.frames;
  for (size_t i = 0; i + 1 < fs.size(); ++i) {
    if (!is_publish(fs[i])) continue;
    const Frame& header = fs[i + 1];
    if (header.type != kFrameHeader || header.channel != fs[i].channel) continue;
    PreparsedPublish p;
    Method m;
    if (!decode_method(fs[i].payload, m).ok()) continue;
    p.method = std::get<BasicPublish>(m);
    if (p.method.immediate) continue;
    if (!decode_content_header(header.payload, p.header).ok()) continue;
    const PropertiesView& props = p.header.properties;
    if (props.has(Property::UserId) || props.has(Property::ReplyTo) || props.has(Property::Expiration)) continue;
    p.frame = uint32_t(i);
    p.channel = fs[i].channel;
    p.frame_count = 2;
    if (p.header.body_size > 0) {
      if (i + 2 >= fs.size()) continue;
      const Frame& body = fs[i + 2];
      if (body.type != kFrameBody || body.channel != p.channel || body.payload.size() != p.header.body_size) continue;
      p.body = body.payload;
      p.frame_count = 3;
    }
    p.essentials = essentials(props);
    if (p.body.size() > broker::Message::kInlineBody) p.large_body = std::make_shared<const std::string>(as_chars(p.body));
    out.publishes.push_back(std::move(p));
    i += out.publishes.back().frame_count - 1;
  }
}

}  // namespace warren::amqp091
