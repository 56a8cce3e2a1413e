#pragma once
// What an AMQP 1.0 server connection is allowed and offers. The users are
// the AMQP 0-9-1 engine's (one directory for both protocols).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "auth/directory.hpp"

namespace warren::amqp10 {

struct ServerOptions {
  std::shared_ptr<auth::Directory> directory = auth::Directory::with_defaults();
  bool cert_login = false;  // SASL EXTERNAL, as amqp091::ServerOptions::cert_login
  // ANONYMOUS and the plain (no SASL) header log in as this user, subject to
  // its loopback rule (RabbitMQ 3.x's amqp1_0 default_user).
  std::string default_user = "guest";
  uint32_t max_frame_size = 128 * 1024;
  uint16_t channel_max = 1023;
  std::chrono::milliseconds idle_time_out{60000};  // ours; 0: none
  uint32_t handle_max = 1023;
  uint32_t incoming_window = 2048;   // transfer frames per session
  uint32_t link_credit = 256;        // granted to each publishing link
  uint64_t max_message_size = 16 * 1024 * 1024;
  size_t max_output = 16 * 1024 * 1024;  // unsent bytes before links stop delivering
  std::chrono::milliseconds handshake_timeout{10000};
  // A bare address names a queue, declared on first use when this is set.
  bool declare_bare_queues = true;
  // Where each session's ids start (tests set them near 2^32 for wrap-around).
  uint32_t initial_outgoing_id = 0;
  uint32_t initial_delivery_id = 0;
  std::string product = "Warren";
  std::string version = "0.1.0";
  std::string container_id = "warren";
};

}  // namespace warren::amqp10
