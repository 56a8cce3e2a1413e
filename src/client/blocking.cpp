#include "client/blocking.hpp"

#include "client/connection_core.hpp"

namespace warren::client {

namespace {
void not_from_io_thread(Channel& ch) {
  if (ch.core().on_io_thread()) throw ClientError({0, "the blocking API was called from a callback"});
}
}  // namespace

BlockingChannel::BlockingChannel(std::shared_ptr<Channel> ch, milliseconds timeout)
    : ch_(std::move(ch)), timeout_(timeout) {}

BlockingChannel::~BlockingChannel() = default;

void BlockingChannel::wait_done(const std::function<void(DoneCallback)>& issue) {
  not_from_io_thread(*ch_);
  auto p = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = p->get_future();
  issue([p](const std::optional<Error>& e) { p->set_value(e); });
  if (f.wait_for(timeout_) != std::future_status::ready) throw ClientError({0, "no reply within the timeout"});
  if (auto e = f.get()) throw ClientError(*e);
}

template <class T>
T BlockingChannel::wait_result(const std::function<void(ResultCallback<T>)>& issue) {
  not_from_io_thread(*ch_);
  auto p = std::make_shared<std::promise<std::pair<std::optional<Error>, T>>>();
  auto f = p->get_future();
  issue([p](const std::optional<Error>& e, T&& v) { p->set_value({e, std::move(v)}); });
  if (f.wait_for(timeout_) != std::future_status::ready) throw ClientError({0, "no reply within the timeout"});
  auto [e, v] = f.get();
  if (e) throw ClientError(*e);
  return std::move(v);
}

void BlockingChannel::confirm_select() {
  wait_done([&](DoneCallback cb) { ch_->confirm_select(std::move(cb)); });
}
void BlockingChannel::tx_select() {
  wait_done([&](DoneCallback cb) { ch_->tx_select(std::move(cb)); });
}
void BlockingChannel::tx_commit() {
  wait_done([&](DoneCallback cb) { ch_->tx_commit(std::move(cb)); });
}
void BlockingChannel::tx_rollback() {
  wait_done([&](DoneCallback cb) { ch_->tx_rollback(std::move(cb)); });
}
void BlockingChannel::qos(uint16_t n) {
  wait_done([&](DoneCallback cb) { ch_->qos(n, std::move(cb)); });
}
void BlockingChannel::exchange_declare(const ExchangeSpec& e, bool passive) {
  wait_done([&](DoneCallback cb) { ch_->exchange_declare(e, std::move(cb), passive); });
}
void BlockingChannel::exchange_delete(const std::string& name, bool if_unused) {
  wait_done([&](DoneCallback cb) { ch_->exchange_delete(name, std::move(cb), if_unused); });
}
QueueInfo BlockingChannel::queue_declare(const QueueSpec& q, bool passive) {
  return wait_result<QueueInfo>([&](ResultCallback<QueueInfo> cb) { ch_->queue_declare(q, std::move(cb), passive); });
}
uint32_t BlockingChannel::queue_delete(const std::string& name, bool if_unused, bool if_empty) {
  return wait_result<uint32_t>(
      [&](ResultCallback<uint32_t> cb) { ch_->queue_delete(name, std::move(cb), if_unused, if_empty); });
}
uint32_t BlockingChannel::queue_purge(const std::string& name) {
  return wait_result<uint32_t>([&](ResultCallback<uint32_t> cb) { ch_->queue_purge(name, std::move(cb)); });
}
void BlockingChannel::bind(const BindingSpec& b) {
  wait_done([&](DoneCallback cb) { ch_->bind(b, std::move(cb)); });
}
void BlockingChannel::unbind(const BindingSpec& b) {
  wait_done([&](DoneCallback cb) { ch_->unbind(b, std::move(cb)); });
}

std::string BlockingChannel::consume(const ConsumeSpec& c) {
  auto inbox = inbox_;
  ConsumerEvents events;
  events.delivery = [inbox](Delivery&& d) {
    std::lock_guard l(inbox->mu);
    inbox->deliveries.push_back(std::move(d));
    inbox->cv.notify_one();
  };
  return wait_result<std::string>(
      [&](ResultCallback<std::string> cb) { ch_->consume(c, std::move(events), std::move(cb)); });
}

std::optional<Delivery> BlockingChannel::next_delivery(milliseconds timeout) {
  std::unique_lock l(inbox_->mu);
  if (!inbox_->cv.wait_for(l, timeout, [&] { return !inbox_->deliveries.empty(); })) return std::nullopt;
  Delivery d = std::move(inbox_->deliveries.front());
  inbox_->deliveries.pop_front();
  return d;
}

void BlockingChannel::cancel(const std::string& tag) {
  wait_done([&](DoneCallback cb) { ch_->cancel(tag, std::move(cb)); });
}

std::optional<Delivery> BlockingChannel::get(const std::string& queue, bool no_ack) {
  return wait_result<std::optional<Delivery>>(
      [&](ResultCallback<std::optional<Delivery>> cb) { ch_->get(queue, no_ack, std::move(cb)); });
}

std::future<Outcome> BlockingChannel::publish_async(const PublishSpec& p) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto f = promise->get_future();
  if (!ch_->confirm_mode()) {
    ch_->publish(p);
    promise->set_value(Outcome::Acked);
    return f;
  }
  ch_->publish(p, [promise](Outcome o) { promise->set_value(o); });
  return f;
}

Outcome BlockingChannel::publish(const PublishSpec& p) {
  not_from_io_thread(*ch_);
  auto f = publish_async(p);
  // No timeout: the outcome always comes (Unknown at the latest, when the
  // connection is lost); a broker that neither confirms nor dies is what
  // heartbeats catch.
  return f.get();
}

void BlockingChannel::close() {
  wait_done([&](DoneCallback cb) { ch_->close(std::move(cb)); });
}

}  // namespace warren::client
