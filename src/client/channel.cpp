// Channel: each call runs the engine under the connection's lock.
#include "client/connection.hpp"
#include "client/connection_core.hpp"

namespace warren::client {

Channel::~Channel() {
  core_->with([&](Session& s) { s.release_channel(id_); });
}

bool Channel::is_open() const {
  return core_->with([&](Session& s) { return s.channel_open(id_); });
}
bool Channel::closed_for_good() const {
  return core_->with([&](Session& s) { return s.channel_closed_for_good(id_); });
}
uint64_t Channel::epoch() const {
  return core_->with([&](Session& s) { return s.epoch(); });
}
uint64_t Channel::next_publish_seq() const {
  return core_->with([&](Session& s) { return s.next_publish_seq(id_); });
}
bool Channel::confirm_mode() const {
  return core_->with([&](Session& s) { return s.confirm_mode(id_); });
}
size_t Channel::pending_confirms() const {
  return core_->with([&](Session& s) { return s.pending_confirms(id_); });
}

void Channel::confirm_select(DoneCallback done) {
  core_->with([&](Session& s) { s.confirm_select(id_, std::move(done)); });
}
void Channel::tx_select(DoneCallback done) {
  core_->with([&](Session& s) { s.tx_select(id_, std::move(done)); });
}
void Channel::tx_commit(DoneCallback done) {
  core_->with([&](Session& s) { s.tx_commit(id_, std::move(done)); });
}
void Channel::tx_rollback(DoneCallback done) {
  core_->with([&](Session& s) { s.tx_rollback(id_, std::move(done)); });
}
void Channel::qos(uint16_t prefetch_count, DoneCallback done) {
  core_->with([&](Session& s) { s.qos(id_, prefetch_count, std::move(done)); });
}
void Channel::exchange_declare(const ExchangeSpec& e, DoneCallback done, bool passive) {
  core_->with([&](Session& s) { s.exchange_declare(id_, e, passive, std::move(done)); });
}
void Channel::exchange_delete(const std::string& name, DoneCallback done, bool if_unused) {
  core_->with([&](Session& s) { s.exchange_delete(id_, name, if_unused, std::move(done)); });
}
void Channel::queue_declare(const QueueSpec& q, ResultCallback<QueueInfo> done, bool passive) {
  core_->with([&](Session& s) { s.queue_declare(id_, q, passive, std::move(done)); });
}
void Channel::queue_delete(const std::string& name, ResultCallback<uint32_t> done, bool if_unused, bool if_empty) {
  core_->with([&](Session& s) { s.queue_delete(id_, name, if_unused, if_empty, std::move(done)); });
}
void Channel::queue_purge(const std::string& name, ResultCallback<uint32_t> done) {
  core_->with([&](Session& s) { s.queue_purge(id_, name, std::move(done)); });
}
void Channel::bind(const BindingSpec& b, DoneCallback done) {
  core_->with([&](Session& s) { s.bind(id_, b, std::move(done)); });
}
void Channel::unbind(const BindingSpec& b, DoneCallback done) {
  core_->with([&](Session& s) { s.unbind(id_, b, std::move(done)); });
}
void Channel::consume(const ConsumeSpec& c, ConsumerEvents events, ResultCallback<std::string> done) {
  core_->with([&](Session& s) { s.consume(id_, c, std::move(events), std::move(done)); });
}
void Channel::cancel(const std::string& tag, DoneCallback done) {
  core_->with([&](Session& s) { s.cancel(id_, tag, std::move(done)); });
}
void Channel::get(const std::string& queue, bool no_ack, ResultCallback<std::optional<Delivery>> done) {
  core_->with([&](Session& s) { s.get(id_, queue, no_ack, std::move(done)); });
}
uint64_t Channel::publish(const PublishSpec& p, ConfirmCallback confirmed) {
  uint64_t seq = core_->with([&](Session& s) { return s.publish(id_, p, std::move(confirmed)); });
  core_->throttle();
  return seq;
}
bool Channel::ack(const Delivery& d, bool multiple) {
  return core_->with([&](Session& s) { return s.ack(id_, d.epoch, d.delivery_tag, multiple); });
}
bool Channel::nack(const Delivery& d, bool multiple, bool requeue) {
  return core_->with([&](Session& s) { return s.nack(id_, d.epoch, d.delivery_tag, multiple, requeue); });
}
bool Channel::reject(const Delivery& d, bool requeue) {
  return core_->with([&](Session& s) { return s.reject(id_, d.epoch, d.delivery_tag, requeue); });
}
void Channel::close(DoneCallback done) {
  core_->with([&](Session& s) { s.close_channel(id_, std::move(done)); });
}

}  // namespace warren::client
