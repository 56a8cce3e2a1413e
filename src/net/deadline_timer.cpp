#include "net/deadline_timer.hpp"

namespace warren::net {

void DeadlineTimer::arm(std::optional<TimePoint> when) {
  if (when == at_) return;
  if (id_) loop_.cancel_timer(id_);
  id_ = 0;
  at_ = when;
  if (!when) return;
  id_ = loop_.add_timer(*when, [this] {
    id_ = 0;
    at_.reset();
    on_fire_();
  });
}

}  // namespace warren::net
