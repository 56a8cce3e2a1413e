// warren-store: inspect a warrend data directory's logs without opening
// them (no lock taken, nothing written; safe beside a running warrend).
//
//   warren-store ls DIR       queues with their message counts, exchanges, segments
//   warren-store verify DIR   every record's CRC, and each segment index against its
//                             segment; exit 1 if anything is damaged
//
// DIR is a data directory (each vhost under DIR/store/) or one vhost's log
// directory. docs/storage.md has the format.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "store/inspect.hpp"

using namespace warren;

namespace {

// The log directories DIR stands for.
std::vector<std::string> log_dirs(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  if (fs::is_directory(fs::path(dir) / "store")) {
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "store"))
      if (e.is_directory()) out.push_back(e.path().string());
  } else {
    out.push_back(dir);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int run(const std::string& dir, bool list) {
  std::unique_ptr<store::Io> io = store::posix_io();
  bool damaged = false;
  for (const std::string& d : log_dirs(dir)) {
    store::Inspection in;
    if (int err = store::inspect(*io, d, in)) {
      fmt::print(stderr, "warren-store: {}: {}\n", d, std::strerror(err));
      return 2;
    }
    fmt::print("{}\n", d);
    for (size_t i = 0; i < in.segments.size(); ++i) {
      const store::SegmentSummary& s = in.segments[i];
      std::string state = "ok";
      if (s.unreadable) state = "UNREADABLE (no valid header)";
      else if (!s.damaged.empty()) state = fmt::format("DAMAGED: {} stretch(es), first at offset {}", s.damaged.size(), s.damaged[0].first);
      else if (s.tail_bytes && !s.zero_tail) state = fmt::format("{} bytes after the last record ({})", s.tail_bytes,
                                                                  i + 1 == in.segments.size() ? "a torn or unfinished write" : "DAMAGED");
      else if (s.zero_tail) state = fmt::format("ok, {} bytes prepared and unused", s.tail_bytes);
      std::string index;
      switch (s.index) {
        case store::SegmentSummary::Index::None: index = i + 1 == in.segments.size() ? "" : "  no index"; break;
        case store::SegmentSummary::Index::Good: index = fmt::format("  index ok ({} bytes)", s.index_bytes); break;
        case store::SegmentSummary::Index::Bad: index = "  index BAD: " + s.index_problem; break;
        case store::SegmentSummary::Index::Unchecked: index = "  index not checked: " + s.index_problem; break;
      }
      fmt::print("  segment {}  {} bytes  {} records  {}{}\n", s.file, s.bytes, s.records, state, index);
    }
    if (in.undecodable) fmt::print("  {} records that do not decode: DAMAGED\n", in.undecodable);
    if (list) {
      for (const std::string& x : in.exchanges) fmt::print("  exchange {}\n", x);
      for (const auto& [id, q] : in.queues)
        fmt::print("  queue {}  {} messages  {} bytes of records\n", q.name, q.messages, q.record_bytes);
      fmt::print("  {} durable bindings\n", in.bindings);
    }
    damaged = damaged || in.damaged();
  }
  return damaged ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect warrend's durable storage without opening it (docs/storage.md)"};
  app.require_subcommand(1);
  std::string dir;
  auto* ls = app.add_subcommand("ls", "Queues, their message counts, exchanges and segments");
  ls->add_option("dir", dir, "A data directory, or one vhost's log directory")->required();
  auto* verify = app.add_subcommand("verify", "Check every record and segment index; exit 1 if anything is damaged");
  verify->add_option("dir", dir, "A data directory, or one vhost's log directory")->required();
  CLI11_PARSE(app, argc, argv);
  return run(dir, ls->parsed());
}
