#pragma once
// What a driver has taken from its Session and not yet written: a few
// strings, written with one sendmsg. Taking output swaps the session's
// buffer into a string of its own rather than appending it to what is still
// unwritten, so a publish's body is copied once (into the session's output)
// however far the socket is behind, and the strings keep their capacity
// from turn to turn.
#include <deque>
#include <string>
#include <vector>

#include "client/session.hpp"

namespace warren::client {

class OutputQueue {
 public:
  // Takes what the session has to send. True if there was anything.
  bool take(Session& s, TimePoint now);
  // Writes what the socket takes. False on a socket error (errno is set);
  // a full socket is not one.
  bool write(int fd);
  size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  void clear();

 private:
  void recycle(std::string&& s);

  std::deque<std::string> bufs_;  // the first is written up to off_
  size_t off_ = 0;
  size_t bytes_ = 0;  // unwritten
  std::vector<std::string> spare_;
};

}  // namespace warren::client
