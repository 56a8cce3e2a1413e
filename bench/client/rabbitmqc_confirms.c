/* Publishing with confirms over rabbitmq-c, a window of W in flight, then
 * consuming: client_bench's workload on rabbitmq-c's fastest confirm path.
 *
 *   rabbitmqc_confirms amqp://guest:guest@127.0.0.1:5672/%2F --messages 200000 --size 16 --window 256 [--durable]
 *
 * rabbitmq-c has no confirm API beyond confirm.select: the batched path is
 * to publish W messages with amqp_basic_publish, then read frames with
 * amqp_simple_wait_frame, settle basic.ack / basic.nack (multiple or not),
 * take every frame already buffered, and top the window up again before
 * the next blocking read. Same queue, properties, output lines and
 * consumer (prefetch 1000, one basic.ack per delivery) as client_bench, so
 * bench/client/run.py reads all three publishers the same way.
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process so far. */
static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char* what) {
  fprintf(stderr, "rabbitmqc_confirms: %s\n", what);
  exit(1);
}

static void check_rpc(amqp_connection_state_t conn, const char* what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
  fprintf(stderr, "rabbitmqc_confirms: %s failed (reply type %d", what, (int)r.reply_type);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) fprintf(stderr, ": %s", amqp_error_string2(r.library_error));
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_t* c = (amqp_channel_close_t*)r.reply.decoded;
    fprintf(stderr, ": channel.close %u %.*s", c->reply_code, (int)c->reply_text.len, (char*)c->reply_text.bytes);
  }
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_t* c = (amqp_connection_close_t*)r.reply.decoded;
    fprintf(stderr, ": connection.close %u %.*s", c->reply_code, (int)c->reply_text.len, (char*)c->reply_text.bytes);
  }
  fprintf(stderr, ")\n");
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rabbitmqc_confirms URI [--messages N] [--size B] [--window W] [--durable] [--publish-only]\n");
    return 2;
  }
  size_t messages = 200000, size = 16, window = 256;
  int durable = 0, publish_only = 0;
  for (int i = 2; i < argc; ++i) {
    if (!strcmp(argv[i], "--durable")) {
      durable = 1;
    } else if (!strcmp(argv[i], "--publish-only")) { /* for profiling the publish phase alone */
      publish_only = 1;
    } else if (i + 1 < argc && !strcmp(argv[i], "--messages")) {
      messages = strtoul(argv[++i], NULL, 10);
    } else if (i + 1 < argc && !strcmp(argv[i], "--size")) {
      size = strtoul(argv[++i], NULL, 10);
    } else if (i + 1 < argc && !strcmp(argv[i], "--window")) {
      window = strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "rabbitmqc_confirms: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (window == 0) die("--window must be at least 1");

  struct amqp_connection_info ci;
  char* url = strdup(argv[1]);
  amqp_default_connection_info(&ci);
  if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) die("cannot parse the URI");

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* sock = amqp_tcp_socket_new(conn);  /* sets TCP_NODELAY */
  if (!sock) die("amqp_tcp_socket_new");
  if (amqp_socket_open(sock, ci.host, ci.port) != AMQP_STATUS_OK) die("cannot connect");
  /* frame_max 131072, as src/client and amqp091-go ask; no heartbeats. */
  amqp_rpc_reply_t login =
      amqp_login(conn, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
  if (login.reply_type != AMQP_RESPONSE_NORMAL) die("login failed");
  const amqp_channel_t ch = 1;
  amqp_channel_open(conn, ch);
  check_rpc(conn, "channel.open");

  const char* qname = durable ? "client-bench-durable" : "client-bench";
  amqp_bytes_t q = amqp_cstring_bytes(qname);
  amqp_queue_declare(conn, ch, q, 0, durable, 0, 0, amqp_empty_table);
  check_rpc(conn, "queue.declare");
  amqp_queue_purge(conn, ch, q);
  check_rpc(conn, "queue.purge");
  amqp_confirm_select(conn, ch);
  check_rpc(conn, "confirm.select");

  char* body_buf = malloc(size ? size : 1);
  memset(body_buf, 'x', size);
  amqp_bytes_t body = {size, body_buf};
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  if (durable) {
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 2;
  }

  /* settled[tag]: acks may come out of order (multiple=false), so the
   * window counts what is unsettled, not tag distances. */
  unsigned char* settled = calloc(messages + 1, 1);
  uint64_t low = 1;  /* every tag below it is settled */
  size_t published = 0, in_flight = 0, acked = 0, nacked = 0;

  double cpu0 = cpu_s();
  double t0 = now_s();
  while (published < messages || in_flight > 0) {
    /* Top the window up: amqp_basic_publish writes the three frames at once
     * (MSG_MORE between them). */
    while (in_flight < window && published < messages) {
      int rc = amqp_basic_publish(conn, ch, amqp_empty_bytes, q, 0, 0, &props, body);
      if (rc != AMQP_STATUS_OK) {
        fprintf(stderr, "rabbitmqc_confirms: basic.publish: %s\n", amqp_error_string2(rc));
        return 1;
      }
      ++published;
      ++in_flight;
    }
    /* One blocking read, then every frame already in the buffer. */
    do {
      amqp_frame_t frame;
      int rc = amqp_simple_wait_frame(conn, &frame);
      if (rc != AMQP_STATUS_OK) {
        fprintf(stderr, "rabbitmqc_confirms: reading confirms: %s\n", amqp_error_string2(rc));
        return 1;
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      uint64_t tag;
      int multiple, nack;
      if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
        amqp_basic_ack_t* a = (amqp_basic_ack_t*)frame.payload.method.decoded;
        tag = a->delivery_tag, multiple = a->multiple, nack = 0;
      } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
        amqp_basic_nack_t* n = (amqp_basic_nack_t*)frame.payload.method.decoded;
        tag = n->delivery_tag, multiple = n->multiple, nack = 1;
      } else {
        fprintf(stderr, "rabbitmqc_confirms: unexpected method 0x%08x while publishing\n",
                (unsigned)frame.payload.method.id);
        return 1;
      }
      if (tag == 0 || tag > published) die("a confirm for a tag never published");
      uint64_t from = multiple ? low : tag;
      for (uint64_t t = from; t <= tag; ++t) {
        if (settled[t]) continue;
        settled[t] = 1;
        --in_flight;
        if (nack)
          ++nacked;
        else
          ++acked;
      }
      while (low <= published && settled[low]) ++low;
    } while (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn));
    amqp_maybe_release_buffers(conn);
  }
  double pub_s = now_s() - t0;
  printf("publish: %zu messages of %zu B, window %zu: %.0f msg/s (%zu acked, %zu not)\n", messages, size, window,
         messages / pub_s, acked, nacked);
  double pub_cpu = cpu_s() - cpu0;
  printf("publish cpu: %.3f s, %.2f us/msg\n", pub_cpu, pub_cpu * 1e6 / (double)messages);
  fflush(stdout);

  /* Consume them back: prefetch 1000, one basic.ack per delivery. */
  size_t got = publish_only ? messages : 0;
  if (!publish_only) {
    amqp_basic_qos(conn, ch, 0, 1000, 0);
    check_rpc(conn, "basic.qos");
    amqp_basic_consume(conn, ch, q, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check_rpc(conn, "basic.consume");
    t0 = now_s();
    struct timeval limit = {60, 0};
    while (got < messages) {
      amqp_envelope_t env;
      amqp_maybe_release_buffers(conn);
      amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &limit, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) break;
      amqp_basic_ack(conn, ch, env.delivery_tag, 0);
      amqp_destroy_envelope(&env);
      ++got;
    }
    double con_s = now_s() - t0;
    printf("consume: %zu messages: %.0f msg/s\n", got, got / con_s);
  }

  amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  free(settled);
  free(body_buf);
  free(url);
  return got == messages ? 0 : 1;
}
