#pragma once
// A boot counter on disk: each call returns one more than the last call
// ever returned for `path` (1 the first time), and has made that durable
// before it returns. Lock queues' fencing tokens start from it (epoch << 32),
// so no token handed out before a restart is handed out again after it.
//
// The new value goes to "<path>.tmp", is fsynced, renamed over `path`, and
// the directory is fsynced: a crash leaves the old value or the new one,
// never a torn or empty file that would start over at 1.
#include <cstdint>
#include <string>

namespace warren::store {

// Throws std::system_error when the file cannot be read or written, and
// std::runtime_error when it holds something other than a number: starting
// over could repeat tokens, so that is for a person to look at.
uint64_t bump_epoch(const std::string& path);

}  // namespace warren::store
