// warren-prover: a fault-injecting tester for Warren's locks (docs/prover.md).
//
//   warren-prover run --target warren-native --workload lock --faults all --seconds 60 --seed 7 --report out/
//   warren-prover selftest     (plants known bugs; exits 0 only if each is caught)
//   warren-prover list         (the targets)
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "client.hpp"
#include "run.hpp"

using namespace warren::prover;

namespace {

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("warren-prover") : p.string();
}

// A warrend beside this program (an install) or in the build tree.
std::string find_warrend(const std::string& given) {
  if (!given.empty()) return given;
  const std::filesystem::path dir = std::filesystem::path(self_path()).parent_path();
  for (auto p : {dir / "warrend", dir / ".." / "warrend" / "warrend"})
    if (std::filesystem::exists(p)) return std::filesystem::canonical(p).string();
  throw std::runtime_error("no warrend beside warren-prover: give --warrend PATH");
}

std::vector<std::string> parse_faults(const std::string& list) {
  if (list.empty() || list == "none") return {};
  if (list == "all") return kAllFaults;
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string f; std::getline(in, f, ',');) {
    if (std::find(kAllFaults.begin(), kAllFaults.end(), f) == kAllFaults.end())
      throw std::invalid_argument("unknown fault '" + f + "' (kill, stop, cut, blackhole, delay, restart or all)");
    out.push_back(f);
  }
  return out;
}

struct Plant {
  std::string name, why;
  RunOptions opts;
  std::string expect;  // the violation kind that must be reported; empty: none may be
};

int selftest(const std::string& warrend) {
  RunOptions base;
  base.warrend = warrend;
  base.self = self_path();
  base.target = "warren-native";
  base.heartbeat_s = 1;
  std::vector<Plant> plants;
  {
    Plant p{"double-grant", "warrend --unsafe-test-double-grant: a mutex granted to two holders", base, "double-grant"};
    p.opts.warrend_args = {"--unsafe-test-double-grant"};
    p.opts.seconds = 6;
    p.opts.clients = 3;
    plants.push_back(p);
  }
  // Long SIGSTOPs at whoever holds the lock, the same schedule each time.
  RunOptions paused = base;
  paused.harsh = true;
  paused.faults = {"stop"};
  paused.seconds = 17;
  paused.clients = 3;
  paused.seed = 3;
  {
    Plant p{"unfenced", "holders ignore their token, paused past the heartbeat (SIGSTOP)", paused, "resource"};
    p.opts.unfenced = true;
    plants.push_back(p);
  }
  {
    // A recipe that hands out no token. (A black hole does not do it: the
    // holder finishes its short write before the broker gives up on it.)
    Plant p{"recipe without its counter", "exclusive-queue --no-fence, the holder paused past the heartbeat", paused,
            "resource"};
    p.opts.target = "warren-recipe-exclusive-queue";
    p.opts.no_fence = true;
    plants.push_back(p);
  }
  plants.push_back(
      Plant{"fenced (control)", "the same pauses with tokens: the resource refuses the stale writes", paused, ""});
  int missed = 0;
  for (Plant& p : plants) {
    std::cout << fmt::format("== {}: {}\n", p.name, p.why) << std::flush;
    RunResult r = run(p.opts, std::cout);
    print_summary(std::cout, p.opts, r);
    const bool found = std::any_of(r.verdict.violations.begin(), r.verdict.violations.end(),
                                   [&](const Violation& v) { return v.kind == p.expect; });
    const bool ok = p.expect.empty() ? r.verdict.violations.empty() : found;
    std::cout << fmt::format("== {}: {}\n\n", p.name,
                             ok ? (p.expect.empty() ? "clean, as it must be" : "caught")
                                : (p.expect.empty() ? "NOT CLEAN" : "MISSED"));
    if (!ok) ++missed;
  }
  std::cout << fmt::format("selftest: {} of {} planted bugs and controls as expected\n", plants.size() - missed,
                           plants.size());
  return missed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Clients the nemesis kills may do so with a ledger answer half-written
  // to their stdin: that is their death, not the prover's (EPIPE instead).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"warren-prover: fault-injecting tests of Warren's locks (docs/prover.md)"};
  app.require_subcommand(1);

  RunOptions o;
  std::string faults = "none", warrend;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a workload against a target under faults");
  run_cmd->add_option("--target", o.target, "warren-native, warren-recipe-NAME, rabbitmq-recipe-NAME or socketlock (see list)")
      ->required();
  run_cmd->add_option("--workload", o.workload, "lock, queue or socketlock")
      ->check(CLI::IsMember({"lock", "queue", "socketlock"}));
  run_cmd->add_option("--faults", faults, "comma-separated kill,stop,cut,blackhole,delay,restart; all; or none");
  run_cmd->add_option("--seconds", o.seconds, "how long")->check(CLI::Range(5, 86400));
  run_cmd->add_option("--seed", o.seed, "the fault schedule's seed (a run replays with the same one)");
  run_cmd->add_option("--clients", o.clients, "client processes")->check(CLI::Range(1, 256));
  run_cmd->add_option("--report", o.report_dir, "write report.html and history.jsonl here");
  run_cmd->add_option("--warrend", warrend, "the warrend to start (default: beside this program)");
  run_cmd->add_flag("--no-fence", o.no_fence,
                    "recipes without their counter queue's fencing token, as amqp-locks wrote them");
  run_cmd->add_option("--heartbeat", o.heartbeat_s, "AMQP heartbeat the clients ask for, seconds")->check(CLI::Range(1, 60));

  std::string st_warrend;
  CLI::App* selftest_cmd = app.add_subcommand("selftest", "Plant known bugs; exit 0 only if each is caught");
  selftest_cmd->add_option("--warrend", st_warrend, "the warrend to start (default: beside this program)");

  app.add_subcommand("list", "The targets");

  ClientOptions c;
  CLI::App* client_cmd = app.add_subcommand("client", "(internal) one client process of a run");
  client_cmd->group("");
  client_cmd->add_option("--id", c.id);
  client_cmd->add_option("--target", c.target);
  client_cmd->add_option("--port", c.port);
  client_cmd->add_option("--lock", c.lock);
  client_cmd->add_option("--permits", c.permits);
  client_cmd->add_option("--heartbeat", c.heartbeat_s);
  client_cmd->add_option("--epoch-us", c.epoch_us);
  client_cmd->add_option("--seed", c.seed);
  client_cmd->add_option("--socketlock-path", c.socketlock_path);
  client_cmd->add_flag("--unfenced", c.unfenced);
  client_cmd->add_flag("--no-fence", c.no_fence);
  client_cmd->add_option("--role", c.role);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*client_cmd) return c.role.empty() ? run_client(c) : run_queue_client(c);
    if (app.got_subcommand("list")) {
      for (const std::string& t : target_names()) std::cout << t << "\n";
      return 0;
    }
    if (*selftest_cmd) return selftest(find_warrend(st_warrend));
    o.faults = parse_faults(faults);
    o.self = self_path();
    const Target t = parse_target(o.target);
    if (o.workload == "queue" && t.recipe == "socketlock")
      throw std::invalid_argument("--workload queue needs an AMQP target (warren-native, or rabbitmq-recipe-* for RabbitMQ)");
    if (o.workload == "socketlock" && t.recipe != "socketlock")
      throw std::invalid_argument("--workload socketlock needs --target socketlock");
    if (t.recipe == "socketlock")
      for (const std::string& f : o.faults)
        if (f == "cut" || f == "blackhole" || f == "delay")
          throw std::invalid_argument("socketlock's clients use a Unix socket, not the proxy: no '" + f + "' fault");
    if (!t.rabbitmq) o.warrend = find_warrend(warrend);
    RunResult r = run(o, std::cerr);
    if (!o.report_dir.empty()) write_report(o.report_dir, o, r);
    print_summary(std::cout, o, r);
    if (!o.report_dir.empty()) std::cout << "report: " << o.report_dir << "/report.html\n";
    return r.verdict.violations.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "warren-prover: " << e.what() << "\n";
    return 2;
  }
}
