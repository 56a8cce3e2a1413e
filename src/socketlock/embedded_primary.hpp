#pragma once
// A socketlock primary served from a background thread of this process, as
// a client becomes when no primary answers. One per socket path per process,
// shared by the process's clients and stopped when the last one lets go.
#include <memory>
#include <string>
#include <thread>

#include "net/event_loop.hpp"
#include "socketlock/primary.hpp"

namespace warren::socketlock {

class EmbeddedPrimary {
 public:
  // The process's primary for `path`, started if need be; nullptr when
  // another process is primary. Throws on I/O errors.
  static std::shared_ptr<EmbeddedPrimary> get_or_start(const std::string& path, const ServerOptions& opts);
  ~EmbeddedPrimary();
  // The descriptor of the claim on the path (constant while this lives).
  int claim_fd() const { return primary_->claim_fd(); }

 private:
  EmbeddedPrimary() = default;
  net::EventLoop loop_;
  std::unique_ptr<Primary> primary_;
  std::thread thread_;
};

}  // namespace warren::socketlock
