// report.html: one row per client with the intervals it believed it held
// the lock (green) and its writes the resource refused (orange ticks), the
// faults over time (grey bands, labelled), and each violation as a red line
// with its text listed below. Self-contained: no scripts, no network.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "run.hpp"

namespace warren::prover {

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

void write_report(const std::string& dir, const RunOptions& o, const RunResult& r) {
  std::filesystem::create_directories(dir);
  {
    std::ofstream h(dir + "/history.jsonl");
    write_history(h, r.history);
  }
  int64_t end = 1;
  int clients = o.clients;
  for (const Op& op : r.history) {
    end = std::max(end, op.t_us);
    clients = std::max(clients, op.process + 1);
  }
  const double width = 1400, left = 90, row = 22, top = 30;
  const double height = top + row * (clients + 1) + 30;
  auto x = [&](int64_t t) { return left + (width - left - 10) * double(t) / double(end); };
  auto y = [&](int p) { return top + row * (p < 0 ? clients : p); };

  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">)",
                                width, height);
  for (int s = 0; s * 1'000'000 <= end; s += std::max(1, int(end / 1'000'000 / 20)))
    svg += fmt::format(R"(<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#eee"/><text x="{0}" y="{3}" fill="#888">{4}s</text>)",
                       x(int64_t(s) * 1'000'000), top - 12, height - 25, height - 10, s);
  for (int p = 0; p < clients; ++p)
    svg += fmt::format(R"(<text x="4" y="{}">client {}</text>)", y(p) + 14, p);
  svg += fmt::format(R"(<text x="4" y="{}">broker</text>)", y(-1) + 14);

  // Faults: a band on their target's row (the broker's: every row).
  std::map<std::pair<int, std::string>, int64_t> open;
  for (const Op& op : r.history) {
    if (op.f == Fn::Fault && op.detail != "kill") open[{op.process, op.detail}] = op.t_us;
    auto band = [&](int who, int64_t from, int64_t to, const std::string& what) {
      const double y0 = who < 0 ? top : y(who), h = who < 0 ? row * (clients + 1) : row - 2;
      svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#888" opacity="0.25"><title>{} {:.3f}-{:.3f} s</title></rect>)",
                         x(from), y0, std::max(2.0, x(to) - x(from)), h, escape(what), from / 1e6, to / 1e6);
      svg += fmt::format(R"(<text x="{}" y="{}" fill="#555" font-size="9">{}</text>)", x(from) + 1, y(who < 0 ? -1 : who) + 20,
                         escape(what));
    };
    if (op.f == Fn::Fault && op.detail == "kill") band(op.process, op.t_us, op.t_us, "kill -9");
    if (op.f == Fn::Heal) {
      auto it = open.find({op.process, op.detail});
      if (it != open.end()) {
        band(op.process, it->second, op.t_us, op.detail);
        open.erase(it);
      }
    }
  }
  // Holders' beliefs and refused writes.
  std::map<int, const Op*> held;  // each holder's acquire
  auto close = [&](int p, int64_t t) {
    auto it = held.find(p);
    if (it == held.end()) return;
    const Op& a = *it->second;
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#3a3"><title>client {} token {}{} {:.3f}-{:.3f} s</title></rect>)",
                       x(a.t_us), y(p) + 3, std::max(1.0, x(t) - x(a.t_us)), row - 8, p, a.value,
                       a.permit ? fmt::format(" permit {}", a.permit) : std::string(), a.t_us / 1e6, t / 1e6);
    held.erase(it);
  };
  for (const Op& op : r.history) {
    if (op.f == Fn::Acquire && op.type == Type::Ok) held[op.process] = &op;
    if ((op.f == Fn::Release && op.type == Type::Invoke) || (op.type == Type::Info && op.f == Fn::Acquire) ||
        (op.f == Fn::Fault && op.detail == "kill"))
      close(op.process, op.t_us);
    if (op.f == Fn::Write && op.type == Type::Fail)
      svg += fmt::format(R"(<rect x="{}" y="{}" width="2" height="{}" fill="#e80"><title>refused stale token {}{}</title></rect>)",
                         x(op.t_us), y(op.process), row - 2, op.value,
                         op.permit ? fmt::format(" (permit {})", op.permit) : std::string());
  }
  while (!held.empty()) close(held.begin()->first, end);
  for (const Violation& v : r.verdict.violations)
    svg += fmt::format(R"(<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="red" stroke-width="2"><title>{3}</title></line>)",
                       x(v.t_us), top, height - 25, escape(v.text));
  svg += "</svg>";

  std::ofstream out(dir + "/report.html");
  out << "<!doctype html><html><head><meta charset=\"utf-8\"><title>warren-prover " << escape(o.target)
      << "</title><style>body{font-family:sans-serif;margin:20px} .bad{color:#c00} pre{background:#f6f6f6;padding:8px}</style></head><body>";
  out << "<h1>warren-prover: " << escape(o.target) << "</h1>";
  out << fmt::format("<p>workload {}, {} clients, {} s, seed {}, faults: {}</p>", escape(o.workload), o.clients, o.seconds,
                     o.seed, r.faults.size());
  out << "<p><b>" << escape(summary_line(r.verdict)) << "</b></p>";
  out << "<p>Green: a client believed it held the lock. Grey: a fault. Orange: a write the fenced resource refused "
         "(stale token). Red: a violation. Hover for details.</p>";
  out << svg;
  if (!r.verdict.violations.empty()) {
    out << "<h2 class=\"bad\">Violations</h2><ul>";
    for (const Violation& v : r.verdict.violations)
      out << fmt::format("<li class=\"bad\">{} at {:.3f} s: {}</li>", escape(v.kind), v.t_us / 1e6, escape(v.text));
    out << "</ul>";
  }
  out << "<h2>Faults</h2><pre>";
  for (const Fault& f : r.faults)
    out << fmt::format("{:8.3f} s  {:<9} {}  {:.3f} s\n", f.at_us / 1e6, f.kind,
                       f.client < 0 ? std::string("broker") : fmt::format("client {}", f.client), f.duration_us / 1e6);
  out << "</pre><p>The full history is in history.jsonl beside this file.</p></body></html>\n";
}

}  // namespace warren::prover
