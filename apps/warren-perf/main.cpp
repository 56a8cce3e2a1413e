// warren-perf: a load generator with RabbitMQ PerfTest's flags (README.md).
// Exit status: 0 ok, 1 messages lost or duplicated, 2 a client failed, 64 usage.
#include <csignal>
#include <cstdio>

#include "driver.hpp"

namespace {

void on_signal(int) { warren::perf::request_stop(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace warren::perf;
  Options o;
  try {
    o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warren-perf: %s\n", e.what());
    return 64;
  }
  if (o.help) {
    std::fputs(flag_help().c_str(), stdout);
    return 0;
  }
  if (o.body_size_raised)
    std::fprintf(stderr, "warren-perf: -s raised to %zu B, the smallest body that carries a timestamp and sequence number\n",
                 kMinBodySize);
  const ProtocolImpl* proto = nullptr;
  if (o.protocol == Protocol::Amqp091) proto = &amqp091_protocol();
#ifdef WARREN_PERF_AMQP10
  if (o.protocol == Protocol::Amqp10) proto = &amqp10_protocol();
#endif
  if (!proto) {
    std::fprintf(stderr, "warren-perf: --protocol amqp10 is not built in yet\n");
    return 64;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  Results r;
  try {
    r = run(o, *proto);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warren-perf: %s\n", e.what());
    return 2;
  }
  std::fputs(summary_text(o, r).c_str(), stderr);
  if (o.json) std::printf("%s\n", summary_json(o, r).c_str());
  std::fflush(stdout);
  if (!r.errors.empty()) return 2;
  if (r.verified && (r.lost > 0 || r.duplicated > 0)) return 1;
  return 0;
}
