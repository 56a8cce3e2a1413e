// The connection level of the client engine: the handshake, heartbeats,
// connection.close, blocked/unblocked, and the end of an epoch.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "amqp091/frame.hpp"
#include "amqp091/wire.hpp"
#include "client/session_internal.hpp"

namespace warren::client {

using namespace amqp091;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

// What the client tells the broker about itself (RabbitMQ reads
// capabilities to decide which extensions to send).
std::string client_properties(const std::string& product) {
  std::string t;
  Writer w(t);
  auto str = [&](std::string_view k, std::string_view v) {
    w.shortstr(k);
    w.octet('S');
    w.longstr(v);
  };
  str("product", product);
  str("platform", "C++20");
  w.shortstr("capabilities");
  w.octet('F');
  size_t at = w.begin_length();
  for (std::string_view cap : {"publisher_confirms", "consumer_cancel_notify", "connection.blocked", "basic.nack",
                               "exchange_exchange_bindings", "authentication_failure_close"}) {
    w.shortstr(cap);
    w.octet('t');
    w.octet(1);
  }
  w.end_length(at);
  return t;
}

// Whether the space-separated list names PLAIN itself (AMQPLAIN is another mechanism).
bool offers_plain(std::string_view mechanisms) {
  for (;;) {
    size_t sp = mechanisms.find(' ');
    if (mechanisms.substr(0, sp) == "PLAIN") return true;
    if (sp == std::string_view::npos) return false;
    mechanisms.remove_prefix(sp + 1);
  }
}

// Both non-zero: the lower. One zero: the other (as pika does).
template <class T>
T negotiate(T ours, T theirs) {
  if (ours == 0 || theirs == 0) return std::max(ours, theirs);
  return std::min(ours, theirs);
}

}  // namespace

ClientError::ClientError(Error e)
    : std::runtime_error(e.code ? std::to_string(e.code) + " " + e.text : e.text), error_(std::move(e)) {}

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Acked: return "acked";
    case Outcome::Nacked: return "nacked";
    case Outcome::Returned: return "returned";
    case Outcome::Unknown: return "unknown";
  }
  return "?";
}

void run_ready(std::vector<ReadyItem>& ready, std::vector<std::unique_ptr<Delivery>>* spent) {
  for (auto& item : ready) {
    if (auto* c = std::get_if<Completion>(&item)) {
      if (c->callback) c->callback(c->outcome);
    } else if (auto* d = std::get_if<ReadyDelivery>(&item)) {
      if (d->callback && *d->callback) (*d->callback)(std::move(*d->delivery));
      if (spent) spent->push_back(std::move(d->delivery));
    } else if (auto* f = std::get_if<std::function<void()>>(&item)) {
      if (*f) (*f)();
    }
  }
  ready.clear();
}

Session::Session(SessionOptions opts, ConnectionEvents events)
    : opts_(std::move(opts)), events_(std::move(events)), rng_(opts_.seed ? opts_.seed : std::random_device{}()) {}

Session::~Session() = default;

void Session::trace(const char* what, uint16_t channel, std::string_view detail) const {
  if (opts_.trace) std::fprintf(stderr, "warren-client epoch %llu ch %u: %s %.*s\n", (unsigned long long)epoch_, channel, what, int(detail.size()), detail.data());
}

void Session::transport_up(TimePoint now) {
  ++epoch_;
  trace("transport up", 0, "");
  state_ = State::Handshake;
  in_.clear();
  body_in_ = {};
  out_.clear();
  drop_transport_.reset();
  frame_max_ = kFrameMinSize;
  heartbeat_ = 0;
  last_in_ = last_out_ = now;
  out_.append(reinterpret_cast<const char*>(kProtocolHeader.data()), kProtocolHeader.size());
}

void Session::drop(Error why) {
  if (!drop_transport_) drop_transport_ = std::move(why);
}

void Session::transport_down(TimePoint now, Error why) {
  if (state_ == State::Closed || state_ == State::Idle) return;
  trace("transport down:", 0, why.text);
  if (drop_transport_ && drop_transport_->code != 0) why = *drop_transport_;  // the protocol's reason beats EOF
  // The end of an epoch, in one step: nothing of it survives into the next.
  for (auto it = channels_.begin(); it != channels_.end();) {
    Channel& c = *it->second;
    std::vector<Completion> unknown;
    c.confirms.fail_all(unknown);
    c.confirms.restart();
    for (auto& u : unknown) ready_.emplace_back(std::move(u));
    fail_channel_calls(c, why);
    if (c.internal) {
      it = channels_.erase(it);
      continue;
    }
    if (c.state == Channel::State::Closing) {
      c.state = Channel::State::Closed;
      c.consumers.clear();
      if (c.close_done) done_ok(c.close_done);
      c.close_done = nullptr;
    } else if (c.state != Channel::State::Closed) {
      if (c.state == Channel::State::Opening && c.opened && !ever_opened_) {
        done_err(c.opened, why);
        c.opened = nullptr;
      }
      c.state = Channel::State::Down;
    }
    ++it;
  }
  recovery_channel_ = 0;
  in_.clear();
  body_in_ = {};
  out_.clear();
  drop_transport_.reset();
  bool was_open = state_ == State::Open || state_ == State::Recovering;
  if (closing_by_user_ || fatal_ || !opts_.recover || !ever_opened_) {
    finish_close(fatal_ ? *fatal_ : why);
    return;
  }
  state_ = State::Idle;
  next_attempt_ = now + next_backoff();
  if (was_open && events_.lost) ready([cb = events_.lost, why] { cb(why); });
}

void Session::connect_failed(TimePoint now, Error why) {
  if (state_ == State::Closed) return;
  if (!ever_opened_ || closing_by_user_ || !opts_.recover) {
    finish_close(std::move(why));
    return;
  }
  state_ = State::Idle;
  next_attempt_ = now + next_backoff();
}

void Session::finish_close(Error why) {
  state_ = State::Closed;
  closed_reason_ = why;
  for (auto& [id, c] : channels_) {
    if (c->state != Channel::State::Closed) {
      c->state = Channel::State::Closed;
      c->closed_by = why;
    }
    c->consumers.clear();
    // A channel still waiting for its first open will not get one now.
    if (c->opened) done_err(c->opened, why);
    c->opened = nullptr;
  }
  if (close_done_) {
    if (closing_by_user_ && !fatal_)
      done_ok(close_done_);
    else
      done_err(close_done_, why);
    close_done_ = nullptr;
  }
  if (events_.closed) ready([cb = events_.closed, why] { cb(why); });
}

bool Session::wants_transport(TimePoint now) const {
  return state_ == State::Idle && (epoch_ == 0 || now >= next_attempt_);
}

std::optional<TimePoint> Session::next_deadline() const {
  switch (state_) {
    case State::Idle: return epoch_ == 0 ? std::nullopt : std::optional(next_attempt_);
    case State::Closed: return std::nullopt;
    case State::Handshake: return last_in_ + kHandshakeTimeout;
    default: break;
  }
  if (heartbeat_ == 0) return std::nullopt;
  milliseconds hb = std::chrono::seconds(heartbeat_);  // (in ms: half of 1 s is not 0)
  return std::min(last_out_ + hb / 2, last_in_ + 2 * hb);
}

void Session::tick(TimePoint now) {
  if (state_ == State::Handshake && now - last_in_ >= kHandshakeTimeout) {
    drop({0, "no handshake from the broker within 10 s"});
    return;
  }
  if (heartbeat_ == 0 || state_ == State::Idle || state_ == State::Closed || state_ == State::Handshake) return;
  milliseconds hb = std::chrono::seconds(heartbeat_);  // (in ms: half of 1 s is not 0)
  if (now - last_in_ >= 2 * hb) {
    drop({0, "missed heartbeats from the broker (" + std::to_string(2 * heartbeat_) + " s silent)"});
    return;
  }
  if (now - last_out_ >= hb / 2 && out_.empty()) {
    append_heartbeat(out_);
  }
}

bool Session::take_output(std::string& into, TimePoint now) {
  if (out_.empty()) return false;
  if (into.empty()) {
    into.swap(out_);
  } else {
    into.append(out_);
    out_.clear();
  }
  last_out_ = now;
  return true;
}

void Session::take_ready(std::vector<ReadyItem>& into) {
  if (into.empty()) {
    into.swap(ready_);
    return;
  }
  for (auto& r : ready_) into.push_back(std::move(r));
  ready_.clear();
}

void Session::feed(std::span<const uint8_t> bytes, TimePoint now) {
  last_in_ = now;
  if (state_ == State::Idle || state_ == State::Closed || drop_transport_) return;
  if (body_in_.active) {
    bytes = feed_body(bytes);
    if (body_in_.active || drop_transport_) return;
  }
  std::span<const uint8_t> input = bytes;
  if (!in_.empty()) {
    in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    input = as_bytes(std::string_view(in_));
  }
  if (state_ == State::Handshake && !input.empty() && input[0] == 'A') {
    drop({0, "the broker does not speak AMQP 0-9-1 (it answered with another protocol header)"});
    return;
  }
  FrameReader reader(input, state_ == State::Handshake ? 0 : frame_max_);
  Frame f;
  while (!drop_transport_ && reader.next(f)) on_frame(f.channel, f.type, f.payload);
  if (reader.failed() && !drop_transport_) {
    ConnectionClose close{.reply_code = uint16_t(reader.error().code), .reply_text = reader.error().text};
    send_method(0, close);
    drop({uint16_t(reader.error().code), std::string(reader.error().text)});
    return;
  }
  if (drop_transport_) return;
  size_t used = reader.consumed();
  if (start_body(input.subspan(used))) {
    in_.clear();
    return;
  }
  if (!in_.empty()) {
    in_.erase(0, used);
  } else if (used < bytes.size()) {
    in_.assign(reinterpret_cast<const char*>(bytes.data()) + used, bytes.size() - used);
  }
}

// A large body frame is not held whole before it is used: once its header
// is in, its payload goes into its message's body as it arrives, so each
// octet is copied once (from the read buffer) instead of three times (into
// the partial-frame buffer, along it as frames leave, into the body).
bool Session::start_body(std::span<const uint8_t> rest) {
  constexpr uint32_t kStreamAbove = 16 * 1024;  // smaller frames are cheaper to keep whole
  if (state_ == State::Handshake || rest.size() < kFrameHeaderSize) return false;
  const FrameHead head = read_frame_head(rest.first<kFrameHeaderSize>());
  if (head.type != kFrameBody || head.channel == 0 || head.size < kStreamAbove ||
      head.size > max_payload(frame_max_) || rest.size() >= kFrameOverhead + size_t(head.size))
    return false;
  auto it = channels_.find(head.channel);
  if (it == channels_.end()) return false;
  Channel& c = *it->second;
  // Anything the whole frame would be refused or ignored for takes the
  // ordinary path, which says so when the frame is complete.
  if (c.state == Channel::State::Closed || c.in.kind == Incoming::None || !c.in.have_header ||
      c.in.message().body.size() + head.size > c.in.body_size)
    return false;
  body_in_ = {.channel = head.channel, .left = head.size, .size = head.size,
              .start = c.in.message().body.size(), .active = true};
  feed_body(rest.subspan(kFrameHeaderSize));
  return true;
}

std::span<const uint8_t> Session::feed_body(std::span<const uint8_t> bytes) {
  auto it = channels_.find(body_in_.channel);
  // The application may have closed the channel between feeds: the rest of
  // the frame is read and dropped, as a whole frame would have been.
  Incoming* in = it != channels_.end() && it->second->state != Channel::State::Closed &&
                         it->second->in.kind != Incoming::None
                     ? &it->second->in
                     : nullptr;
  size_t n = std::min<size_t>(body_in_.left, bytes.size());
  if (in) in->message().body.append(reinterpret_cast<const char*>(bytes.data()), n);
  body_in_.left -= n;
  bytes = bytes.subspan(n);
  if (body_in_.left > 0 || bytes.empty()) return bytes;  // the frame-end octet is still to come
  body_in_.active = false;
  std::string why;
  std::span<const uint8_t> payload;
  if (in) payload = as_bytes(std::string_view(in->message().body).substr(body_in_.start, body_in_.size));
  if (!frame_sound(kFrameBody, payload, bytes[0], why)) {
    send_method(0, ConnectionClose{.reply_code = uint16_t(ReplyCode::FrameError), .reply_text = why});
    drop({uint16_t(ReplyCode::FrameError), why});
    return {};
  }
  if (in && in->message().body.size() == in->body_size) content_done(*it->second);
  return bytes.subspan(1);
}

void Session::on_frame(uint16_t channel, uint8_t type, std::span<const uint8_t> payload) {
  if (type == kFrameHeartbeat) return;
  if (opts_.trace && type == kFrameMethod && payload.size() >= 4)
    trace("<-", channel, method_name(uint16_t(payload[0] << 8 | payload[1]), uint16_t(payload[2] << 8 | payload[3])));
  if (channel == 0) {
    if (type != kFrameMethod) {
      drop({505, "UNEXPECTED_FRAME - content frame on channel 0"});
      return;
    }
    Method m;
    if (auto st = decode_method(payload, m); !st.ok()) {
      drop({uint16_t(st.code), std::string(st.text)});
      return;
    }
    on_connection_method(m);
    return;
  }
  auto it = channels_.find(channel);
  // Frames for a channel the application closed can still be in flight.
  if (it == channels_.end() || it->second->state == Channel::State::Closed) return;
  Channel& c = *it->second;
  if (type == kFrameMethod) {
    Method m;
    if (auto st = decode_method(payload, m); !st.ok()) {
      drop({uint16_t(st.code), std::string(st.text)});
      return;
    }
    on_channel_method(c, m);
  } else if (type == kFrameHeader) {
    on_content_header(c, payload);
  } else if (type == kFrameBody) {
    on_content_body(c, payload);
  }
}

void Session::on_connection_method(const Method& m) {
  auto unexpected = [&] {
    const MethodInfo* info = method_info(m);
    std::string name = info ? std::string(method_name(info->class_id, info->method_id)) : "?";
    send_method(0, ConnectionClose{.reply_code = 503, .reply_text = "COMMAND_INVALID - unexpected " + name});
    drop({503, "COMMAND_INVALID - the broker sent " + name + " on channel 0"});
  };
  // The handshake's methods once it is over (a broken broker): answering
  // them would tune the connection again, or recover it a second time.
  bool handshake_method = std::holds_alternative<ConnectionStart>(m) || std::holds_alternative<ConnectionTune>(m) ||
                          std::holds_alternative<ConnectionOpenOk>(m);
  if (handshake_method && (state_ == State::Recovering || state_ == State::Open)) {
    unexpected();
    return;
  }
  if (auto* start = std::get_if<ConnectionStart>(&m)) {
    if (!offers_plain(start->mechanisms)) {
      fatal_ = Error{0, "the broker offers no PLAIN login (offers: " + std::string(start->mechanisms) + ")"};
      drop(*fatal_);
      return;
    }
    std::string props = client_properties(opts_.product);
    std::string response;
    response.push_back('\0');
    response += opts_.user;
    response.push_back('\0');
    response += opts_.password;
    send_method(0, ConnectionStartOk{.client_properties = TableView(std::string_view(props)),
                                     .mechanism = "PLAIN",
                                     .response = response,
                                     .locale = "en_US"});
  } else if (auto* tune = std::get_if<ConnectionTune>(&m)) {
    frame_max_ = negotiate(opts_.frame_max, tune->frame_max);
    if (frame_max_ == 0) frame_max_ = opts_.frame_max ? opts_.frame_max : 131072;
    channel_max_ = negotiate<uint16_t>(2047, tune->channel_max);
    heartbeat_ = negotiate(opts_.heartbeat_s, tune->heartbeat);
    if (opts_.heartbeat_s == 0) heartbeat_ = 0;  // asked for none: none
    send_method(0, ConnectionTuneOk{.channel_max = channel_max_, .frame_max = frame_max_, .heartbeat = heartbeat_});
    send_method(0, ConnectionOpen{.virtual_host = opts_.vhost});
  } else if (std::holds_alternative<ConnectionOpenOk>(m)) {
    ever_opened_ = true;
    backoff_ = milliseconds(0);
    state_ = State::Recovering;
    resume();
  } else if (auto* close = std::get_if<ConnectionClose>(&m)) {
    send_method(0, ConnectionCloseOk{});
    Error why{close->reply_code, std::string(close->reply_text)};
    // Refused at login (bad credentials, no such vhost): trying again will not help.
    if (state_ == State::Handshake && (why.code == 403 || why.code == 530)) fatal_ = why;
    drop(why);
  } else if (std::holds_alternative<ConnectionCloseOk>(m)) {
    drop({200, "closed by the application"});
  } else if (auto* b = std::get_if<ConnectionBlocked>(&m)) {
    if (events_.blocked) ready([cb = events_.blocked, r = std::string(b->reason)] { cb(r); });
  } else if (std::holds_alternative<ConnectionUnblocked>(m)) {
    if (events_.unblocked) ready([cb = events_.unblocked] { cb(); });
  } else {
    unexpected();
  }
}

void Session::become_open() {
  state_ = State::Open;
  trace("open", 0, "");
  if (events_.opened) ready([cb = events_.opened, e = epoch_] { cb(e); });
}

milliseconds Session::next_backoff() {
  if (backoff_.count() == 0)
    backoff_ = opts_.backoff_min;
  else
    backoff_ = std::min(backoff_ * 2, opts_.backoff_max);
  // Full jitter within [backoff/2, backoff]: many clients of one broker
  // that went down together do not all come back in the same millisecond.
  auto half = backoff_.count() / 2;
  std::uniform_int_distribution<int64_t> d(half, std::max<int64_t>(half, backoff_.count()));
  return milliseconds(d(rng_));
}

void Session::close(DoneCallback done) {
  closing_by_user_ = true;
  if (state_ == State::Handshake || state_ == State::Recovering || state_ == State::Open) {
    close_done_ = std::move(done);
    state_ = State::Closing;
    send_method(0, ConnectionClose{.reply_code = 200, .reply_text = "Goodbye"});
  } else if (state_ == State::Closing) {
    if (done) done_ok(done);
  } else {
    close_done_ = std::move(done);
    finish_close({200, "closed by the application"});
  }
}

}  // namespace warren::client
