#pragma once
// A broker (warrend or a private RabbitMQ) behind the prover's proxy, for
// the client's fault tests. Tests skip the RabbitMQ half when
// rabbitmq-server is not installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "broker.hpp"
#include "proxy.hpp"

namespace warren::client::testing {

struct FaultRig {
  std::unique_ptr<prover::Broker> broker;
  std::unique_ptr<prover::Proxy> proxy;
  size_t route = 0;
  int port = 0;  // the proxy's: what clients connect to

  // "Warren" or "RabbitMQ". Null broker (and a GTest skip) when unavailable.
  static std::unique_ptr<FaultRig> start(const std::string& which) {
    auto rig = std::make_unique<FaultRig>();
    if (which == "Warren") {
      const char* bin = std::getenv("WARREN_WARREND");
      if (!bin) return nullptr;
      rig->broker = prover::make_warrend(bin);
    } else {
      if (!std::filesystem::exists("/usr/lib/rabbitmq/bin/rabbitmq-server")) return nullptr;
      rig->broker = prover::make_rabbitmq();
    }
    rig->broker->start();
    rig->proxy = std::make_unique<prover::Proxy>("127.0.0.1", rig->broker->port());
    rig->port = rig->proxy->add_route();
    rig->route = 0;
    return rig;
  }
  std::string uri() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/"; }
  std::string direct_uri() const {
    return "amqp://guest:guest@127.0.0.1:" + std::to_string(broker->port()) + "/";
  }
  ~FaultRig() {
    proxy.reset();
    if (broker) broker->stop();
  }
};

}  // namespace warren::client::testing
