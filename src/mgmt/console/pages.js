// The console's pages. Each is make(main, args) -> {refresh}: it draws
// what does not change once, and refresh() (called every few seconds
// while the page is shown) asks the API and redraws the rest. Requests go
// one after the other, never in parallel: the API serves a connection per
// thread, and it has few.
import { RateChart } from "./chart.js";
import { api, bytes, el, enc, field, rate, table } from "./lib.js";

const vhostAttr = (r) => ({ "data-vhost": r.vhost, "data-name": r.name });
const yes = (b) => (b ? "yes" : "");
const features = (o) => [o.durable && "D", o.auto_delete && "AD", o.exclusive && "Excl", o.internal && "I"].filter(Boolean).join(" ");
const queueLink = (vhost, name) => el("a", { href: `#/queues/${enc(vhost)}/${enc(name)}` }, name);
const exchangeName = (name) => name || "(AMQP default)";
const exchangeLink = (vhost, name) =>
  el("a", { href: `#/exchanges/${enc(vhost)}/${enc(name || "amq.default")}` }, exchangeName(name));
const json = (v) => el("pre", { class: "json" }, JSON.stringify(v, null, 2));

function section(main, title) {
  const body = el("div");
  main.append(el("section", {}, el("h2", {}, title), body));
  return body;
}

// A page that is one listing: the path, its columns, and each row's
// attributes; refresh replaces the table.
function listing(title, path, columns, attrs = vhostAttr) {
  return (main) => {
    main.append(el("h1", {}, title));
    const body = el("div");
    main.append(body);
    return {
      async refresh() {
        body.replaceChildren(table(columns, await api(path()), attrs));
      },
    };
  };
}

// ---------------------------------------------------------------- overview

// Kept while the console is open, so that leaving the page and coming
// back keeps the chart's history.
const rateSeries = [
  { key: "publish", label: "Publish", color: "#d9572b" },
  { key: "deliver_get", label: "Deliver / get", color: "#2b7bd9" },
  { key: "ack", label: "Consumer ack", color: "#3a9b3a" },
];
let rateChart = null;

function overview(main) {
  main.append(el("h1", {}, "Overview"));
  const totals = section(main, "Totals");
  const canvas = el("canvas", { id: "rates-chart", "data-samples": "0" });
  const legend = el("ul", { class: "legend" });
  main.append(el("section", {}, el("h2", {}, "Message rates"), canvas, legend));
  const node = section(main, "Node");
  const chart = new RateChart(canvas, rateSeries);
  if (rateChart) chart.samples = rateChart.samples;
  rateChart = chart;
  return {
    async refresh() {
      const o = await api("/overview");
      const q = o.queue_totals || {}, t = o.object_totals || {}, s = o.message_stats || {};
      const item = (key, label, value) => el("div", { class: "total", "data-col": key }, el("span", {}, label), el("b", {}, String(value ?? 0)));
      totals.replaceChildren(
        el("div", { class: "totals" },
          item("connections", "Connections", t.connections), item("channels", "Channels", t.channels),
          item("exchanges", "Exchanges", t.exchanges), item("queues", "Queues", t.queues),
          item("consumers", "Consumers", t.consumers), item("messages", "Messages", q.messages),
          item("messages_ready", "Ready", q.messages_ready),
          item("messages_unacknowledged", "Unacked", q.messages_unacknowledged)));
      const values = {};
      for (const k of rateSeries) values[k.key] = (s[`${k.key}_details`] || {}).rate || 0;
      chart.push(Date.now(), values);
      chart.draw();
      legend.replaceChildren(...rateSeries.map((k) =>
        el("li", { "data-col": k.key }, el("i", { class: `swatch ${k.key}` }), `${k.label}: ${values[k.key].toFixed(1)}/s`)));
      node.replaceChildren(el("dl", {},
        el("dt", {}, "Node"), el("dd", {}, o.node),
        el("dt", {}, "Version"), el("dd", {}, `${o.product_name} ${o.product_version} (RabbitMQ ${o.management_version} API)`),
        el("dt", {}, "Listeners"),
        el("dd", {}, (o.listeners || []).map((l) => `${l.protocol} ${l.ip_address}:${l.port}`).join(", "))));
    },
  };
}

// -------------------------------------------------- connections, channels

const connections = listing("Connections", () => "/connections", [
  { key: "name", label: "Name", value: (c) => c.name },
  { key: "vhost", label: "Virtual host", value: (c) => c.vhost },
  { key: "user", label: "User", value: (c) => c.user },
  { key: "protocol", label: "Protocol", value: (c) => c.protocol },
  { key: "state", label: "State", value: (c) => c.state },
  { key: "channels", label: "Channels", value: (c) => c.channels, num: true },
  { key: "ssl", label: "TLS", value: (c) => yes(c.ssl) },
  { key: "recv_oct", label: "Received", value: (c) => bytes(c.recv_oct), num: true },
  { key: "send_oct", label: "Sent", value: (c) => bytes(c.send_oct), num: true },
]);

const channels = listing("Channels", () => "/channels", [
  { key: "name", label: "Channel", value: (c) => c.name },
  { key: "vhost", label: "Virtual host", value: (c) => c.vhost },
  { key: "user", label: "User", value: (c) => c.user },
  { key: "mode", label: "Mode", value: (c) => [c.confirm && "confirm", c.transactional && "tx"].filter(Boolean).join(" ") },
  { key: "state", label: "State", value: (c) => c.state },
  { key: "prefetch_count", label: "Prefetch", value: (c) => c.prefetch_count, num: true },
  { key: "consumer_count", label: "Consumers", value: (c) => c.consumer_count, num: true },
  { key: "messages_unacknowledged", label: "Unacked", value: (c) => c.messages_unacknowledged, num: true },
  { key: "messages_unconfirmed", label: "Unconfirmed", value: (c) => c.messages_unconfirmed, num: true },
]);

// --------------------------------------------------------------- exchanges

const exchanges = listing("Exchanges", () => "/exchanges", [
  { key: "vhost", label: "Virtual host", value: (x) => x.vhost },
  { key: "name", label: "Name", value: (x) => exchangeLink(x.vhost, x.name) },
  { key: "type", label: "Type", value: (x) => x.type },
  { key: "features", label: "Features", value: features },
]);

// Publishes to an exchange (the default one for a queue's page).
function publishForm(vhost, exchange, fixedKey) {
  const key = el("input", { name: "routing_key", value: fixedKey ?? "", readonly: fixedKey !== undefined });
  const payload = el("textarea", { name: "payload", rows: 3 });
  const persistent = el("input", { type: "checkbox", name: "persistent" });
  const out = el("p", { class: "result", role: "status" });
  const form = el("form", { class: "publish" },
    field("Routing key", key), field("Payload", payload), field("Persistent", persistent),
    el("button", { type: "submit" }, "Publish message"), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api(`/exchanges/${enc(vhost)}/${enc(exchange || "amq.default")}/publish`, {
        method: "POST",
        body: { properties: persistent.checked ? { delivery_mode: 2 } : {}, routing_key: key.value,
                payload: payload.value, payload_encoding: "string" },
      });
      out.textContent = r && r.routed ? "Message published." : "Message published, but not routed.";
      out.className = "result ok";
    } catch (e) {
      out.textContent = `Not published: ${e.reason || e}`;
      out.className = "result error";
    }
  });
  return form;
}

const bindingColumns = [
  { key: "source", label: "From", value: (b) => exchangeName(b.source) },
  { key: "destination", label: "To", value: (b) => b.destination },
  { key: "destination_type", label: "Type", value: (b) => b.destination_type },
  { key: "routing_key", label: "Routing key", value: (b) => b.routing_key },
  { key: "arguments", label: "Arguments", value: (b) => (Object.keys(b.arguments || {}).length ? JSON.stringify(b.arguments) : "") },
];
const bindingAttr = (b) => ({ "data-source": b.source, "data-destination": b.destination, "data-key": b.routing_key });

function exchange(main, [vhost, name]) {
  main.append(el("h1", {}, `Exchange ${exchangeName(name === "amq.default" ? "" : name)}`, el("small", {}, ` in ${vhost}`)));
  const info = section(main, "Details");
  const bindings = section(main, "Bindings from this exchange");
  section(main, "Publish message").append(publishForm(vhost, name));
  const path = `/exchanges/${enc(vhost)}/${enc(name)}`;
  return {
    async refresh() {
      const x = await api(path), b = await api(`${path}/bindings/source`);
      info.replaceChildren(el("dl", {}, el("dt", {}, "Type"), el("dd", {}, x.type),
        el("dt", {}, "Features"), el("dd", {}, features(x)), el("dt", {}, "Arguments"), el("dd", {}, json(x.arguments))));
      bindings.replaceChildren(table(bindingColumns, b, bindingAttr));
    },
  };
}

// ------------------------------------------------------------------ queues

const queueColumns = [
  { key: "vhost", label: "Virtual host", value: (q) => q.vhost },
  { key: "name", label: "Name", value: (q) => queueLink(q.vhost, q.name) },
  { key: "type", label: "Type", value: (q) => q.type },
  { key: "features", label: "Features", value: features },
  { key: "messages_ready", label: "Ready", value: (q) => q.messages_ready, num: true },
  { key: "messages_unacknowledged", label: "Unacked", value: (q) => q.messages_unacknowledged, num: true },
  { key: "messages", label: "Total", value: (q) => q.messages, num: true },
  { key: "consumers", label: "Consumers", value: (q) => q.consumers, num: true },
  { key: "publish", label: "Incoming", value: (q) => rate((q.message_stats || {}).publish_details), num: true },
  { key: "deliver_get", label: "Deliver / get", value: (q) => rate((q.message_stats || {}).deliver_get_details), num: true },
];
// Only what the table shows, a page at a time.
const queueFields = "vhost,name,type,durable,auto_delete,exclusive,messages_ready,messages_unacknowledged,messages," +
  "consumers,message_stats.publish_details,message_stats.deliver_get_details";
const PAGE_SIZE = 100;

function queues(main) {
  main.append(el("h1", {}, "Queues"));
  let page = 1;
  const filter = el("input", { type: "search", id: "queue-filter", placeholder: "Filter by name" });
  const pager = el("div", { class: "pager" });
  const body = el("div");
  main.append(el("div", { class: "tools" }, filter, pager), body);
  const self = {
    async refresh() {
      const qs = `page=${page}&page_size=${PAGE_SIZE}&name=${enc(filter.value)}&columns=${queueFields}`;
      const r = await api(`/queues?${qs}`);
      body.replaceChildren(table(queueColumns, r.items, vhostAttr));
      const go = (p, label) =>
        el("button", { type: "button", disabled: p < 1 || p > r.page_count, onclick: () => { page = p; self.refresh(); } }, label);
      pager.replaceChildren(go(page - 1, "‹"), ` page ${r.page} of ${r.page_count}, ${r.filtered_count} ${r.filtered_count === 1 ? "queue" : "queues"} `,
        go(page + 1, "›"));
    },
  };
  filter.addEventListener("input", () => { page = 1; self.refresh(); });
  return self;
}

// Gets messages from a queue, as RabbitMQ's UI does (nack and requeue by default).
function getForm(vhost, name) {
  const ackmode = el("select", { name: "ackmode" },
    el("option", { value: "ack_requeue_true" }, "Nack message, requeue"),
    el("option", { value: "ack_requeue_false" }, "Automatic ack"),
    el("option", { value: "reject_requeue_true" }, "Reject, requeue"),
    el("option", { value: "reject_requeue_false" }, "Reject, no requeue"));
  const count = el("input", { type: "number", name: "count", value: 1, min: 1, max: 100 });
  const out = el("div", { class: "messages", role: "status" });
  const form = el("form", { class: "get" }, field("Ack mode", ackmode), field("Messages", count),
    el("button", { type: "submit" }, "Get messages"), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const msgs = await api(`/queues/${enc(vhost)}/${enc(name)}/get`, {
        method: "POST", body: { count: Number(count.value), ackmode: ackmode.value, encoding: "auto", truncate: 50000 },
      });
      out.replaceChildren(msgs.length ? "" : el("p", { class: "result" }, "Queue is empty."),
        ...msgs.map((m, i) => el("dl", { class: "message", "data-index": i },
          el("dt", {}, "Exchange"), el("dd", {}, exchangeName(m.exchange)),
          el("dt", {}, "Routing key"), el("dd", {}, m.routing_key),
          el("dt", {}, "Redelivered"), el("dd", {}, m.redelivered ? "yes" : "no"),
          el("dt", {}, "Properties"), el("dd", {}, json(m.properties)),
          el("dt", {}, `Payload (${m.payload_bytes} bytes, ${m.payload_encoding})`),
          el("dd", {}, el("pre", { class: "payload" }, m.payload)))));
    } catch (e) {
      out.replaceChildren(el("p", { class: "result error" }, `Cannot get: ${e.reason || e}`));
    }
  });
  return form;
}

function queue(main, [vhost, name]) {
  main.append(el("h1", {}, `Queue ${name}`, el("small", {}, ` in ${vhost}`)));
  const info = section(main, "Details");
  const consumers = section(main, "Consumers");
  const bindings = section(main, "Bindings");
  section(main, "Publish message").append(publishForm(vhost, "", name));
  section(main, "Get messages").append(getForm(vhost, name));
  const path = `/queues/${enc(vhost)}/${enc(name)}`;
  return {
    async refresh() {
      const q = await api(path), cs = await api(`/consumers/${enc(vhost)}`), bs = await api(`${path}/bindings`);
      const s = q.message_stats || {};
      const row = (key, label, value) => [el("dt", {}, label), el("dd", { "data-col": key }, String(value ?? ""))];
      info.replaceChildren(el("dl", { class: "queue" },
        row("type", "Type", q.type), row("features", "Features", features(q)),
        row("messages_ready", "Ready", q.messages_ready),
        row("messages_unacknowledged", "Unacked", q.messages_unacknowledged),
        row("messages", "Total", q.messages), row("consumers", "Consumers", q.consumers),
        row("memory", "Memory", bytes(q.memory)),
        row("publish", "Incoming", rate(s.publish_details)), row("deliver_get", "Deliver / get", rate(s.deliver_get_details)),
        row("ack", "Acks", rate(s.ack_details)),
        el("dt", {}, "Arguments"), el("dd", {}, json(q.arguments))));
      consumers.replaceChildren(table([
        { key: "channel", label: "Channel", value: (c) => c.channel_details.name },
        { key: "consumer_tag", label: "Consumer tag", value: (c) => c.consumer_tag },
        { key: "ack_required", label: "Ack required", value: (c) => yes(c.ack_required) },
        { key: "exclusive", label: "Exclusive", value: (c) => yes(c.exclusive) },
        { key: "prefetch_count", label: "Prefetch", value: (c) => c.prefetch_count, num: true },
      ], cs.filter((c) => c.queue.name === name), (c) => ({ "data-tag": c.consumer_tag })));
      bindings.replaceChildren(table(bindingColumns, bs, bindingAttr));
    },
  };
}

// ------------------------------------------------------------------- locks

// A semaphore's holders (and its offered waiter) each have a permit slot,
// 1..permits: a resource fences per slot.
const partyColumns = (waiting, semaphore) => [
  ...(waiting ? [{ key: "position", label: "#", value: (p) => p.position, num: true }] : []),
  { key: "connection", label: "Connection", value: (p) => p.connection ?? "(basic.get)" },
  { key: "channel", label: "Channel", value: (p) => p.channel ?? "", num: true },
  { key: "consumer_tag", label: "Consumer tag", value: (p) => p.consumer_tag ?? "" },
  { key: "user", label: "User", value: (p) => p.user ?? "" },
  { key: "mode", label: "Mode", value: (p) => p.mode },
  { key: "token", label: waiting ? "Offered token" : "Fencing token", value: (p) => p.token ?? "", num: true },
  ...(semaphore ? [{ key: "permit", label: "Permit", value: (p) => p.permit ?? "", num: true }] : []),
];

function locks(main) {
  main.append(el("h1", {}, "Locks"),
    el("p", { class: "hint" }, "Lock queues (x-queue-type: lock): who holds each, who waits, and the fencing tokens."));
  const body = el("div");
  main.append(body);
  return {
    async refresh() {
      const all = await api("/locks");
      if (!all.length) return body.replaceChildren(el("p", { class: "empty" }, "No lock queues."));
      body.replaceChildren(...all.map((l) => el("section", { class: "lock", "data-vhost": l.vhost, "data-name": l.name },
        el("h2", {}, queueLink(l.vhost, l.name), el("small", {}, ` in ${l.vhost}`)),
        el("p", { class: "facts" },
          el("span", { "data-col": "kind" }, l.kind), ` · policy ${l.policy}`,
          l.kind === "semaphore" ? ` · ${l.permits} permits` : "",
          l.ttl !== null && l.ttl !== undefined ? ` · lease ${l.ttl} ms` : "",
          " · last token ", el("b", { "data-col": "last_token" }, l.last_token || "none")),
        el("h3", {}, `Holders (${l.holders.length})`),
        table(partyColumns(false, l.kind === "semaphore"), l.holders, (p) => ({ class: "holder", "data-token": p.token }), "Free."),
        el("h3", {}, `Waiting (${l.waiters.length})`),
        table(partyColumns(true, l.kind === "semaphore"), l.waiters.map((p, i) => ({ ...p, position: i + 1 })),
          (p) => ({ class: "waiter", "data-position": p.position }), "Nobody waits."))));
    },
  };
}

// ------------------------------------------------------ users and vhosts

function users(main) {
  main.append(el("h1", {}, "Users"));
  const list = el("div"), perms = section(main, "Permissions");
  main.insertBefore(list, perms.parentNode);
  return {
    async refresh() {
      const us = await api("/users"), ps = await api("/permissions");
      list.replaceChildren(table([
        { key: "name", label: "Name", value: (u) => u.name },
        { key: "tags", label: "Tags", value: (u) => (Array.isArray(u.tags) ? u.tags.join(", ") : u.tags) },
      ], us, (u) => ({ "data-name": u.name })));
      perms.replaceChildren(table([
        { key: "user", label: "User", value: (p) => p.user },
        { key: "vhost", label: "Virtual host", value: (p) => p.vhost },
        { key: "configure", label: "Configure", value: (p) => p.configure },
        { key: "write", label: "Write", value: (p) => p.write },
        { key: "read", label: "Read", value: (p) => p.read },
      ], ps, (p) => ({ "data-user": p.user, "data-vhost": p.vhost })));
    },
  };
}

const vhosts = listing("Virtual hosts", () => "/vhosts", [
  { key: "name", label: "Name", value: (v) => v.name },
  { key: "description", label: "Description", value: (v) => v.description },
  { key: "messages_ready", label: "Ready", value: (v) => v.messages_ready, num: true },
  { key: "messages_unacknowledged", label: "Unacked", value: (v) => v.messages_unacknowledged, num: true },
  { key: "messages", label: "Total", value: (v) => v.messages, num: true },
  { key: "publish", label: "Publish", value: (v) => rate((v.message_stats || {}).publish_details), num: true },
], (v) => ({ "data-name": v.name }));

function notFound(main) {
  main.append(el("h1", {}, "Not found"), el("p", {}, el("a", { href: "#/" }, "Back to the overview")));
  return { async refresh() {} };
}

export const pages = { overview, connections, channels, exchanges, exchange, queues, queue, locks, users, vhosts, notFound };
