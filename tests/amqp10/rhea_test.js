// rhea (Node) against warrend over AMQP 1.0: simple_send/simple_recv (our
// rhea_simple_*.js: the npm package ships no examples/), simple_recv with a
// 5 s idle time-out kept up by the broker's empty frames, SASL, credit,
// drain, a flow with echo (available), outcomes, multi-frame messages and
// message sections.
// Starts its own warrend ($WARREN_WARREND) on a free port and stops it with
// SIGTERM at the end (a non-zero exit or a sanitizer report fails the run),
// or uses $WARREN_AMQP10_URL (amqp://HOST:PORT). Tests of what RabbitMQ 3.10
// does not do are skipped against an external broker unless
// WARREN_AMQP10_STRICT=1. Run by run_rhea.sh (which installs rhea from
// package-lock.json).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const rhea = require('rhea');
const frames = require('rhea/lib/frames.js');

const EXTERNAL = process.env.WARREN_AMQP10_URL;
const STRICT = process.env.WARREN_AMQP10_STRICT === '1';
const T = { timeout: 30000 }; // per test: a hang fails the test, not the whole run
const differsOnRabbitmq = (reason) => (EXTERNAL && !STRICT ? `RabbitMQ 3.10 differs: ${reason}` : false);

let warrend;
let dir;
let host = '127.0.0.1';
let port;
let stdout = '';
let stderr = '';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unique = (what) => `rhea.${what}.${Math.random().toString(16).slice(2, 8)}`;

async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

function describeWarrend() {
  return `--- warrend stdout:\n${stdout.slice(-4000)}\n--- warrend stderr:\n${stderr.slice(-4000)}`;
}

before(async () => {
  if (EXTERNAL) {
    const u = new URL(EXTERNAL);
    host = u.hostname;
    port = Number(u.port || 5672);
    return;
  }
  const bin = process.env.WARREN_WARREND;
  assert.ok(bin && fs.existsSync(bin), `$WARREN_WARREND must name warrend, got ${bin}`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wamqp10-node-'));
  warrend = spawn(bin, ['--data-dir', path.join(dir, 'data'), '--socketlock-path', path.join(dir, 'sl.sock'),
    '--amqp-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  warrend.stdout.on('data', (d) => { stdout += d; });
  warrend.stderr.on('data', (d) => { stderr += d; });
  const deadline = Date.now() + 20000;
  for (;;) {
    const m = /AMQP 0-9-1 listening on ([0-9.]+):(\d+)/.exec(stdout);
    if (m) {
      host = m[1];
      port = Number(m[2]);
      return;
    }
    if (warrend.exitCode !== null) throw new Error(`warrend exited early\n${describeWarrend()}`);
    if (Date.now() > deadline) throw new Error(`warrend did not listen\n${describeWarrend()}`);
    await sleep(20);
  }
});

after(async () => {
  for (const conn of connections) if (conn.socket && !conn.socket.destroyed) conn.socket.destroy();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (!warrend) return;
  const exited = warrend.exitCode !== null ? Promise.resolve(warrend.exitCode)
    : new Promise((resolve) => warrend.on('exit', (code, signal) => resolve(code ?? signal)));
  warrend.kill('SIGTERM');
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), 30000); });
  const code = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (code === 'timeout') warrend.kill('SIGKILL');
  assert.equal(code, 0, `warrend's exit after SIGTERM\n${describeWarrend()}`);
  assert.doesNotMatch(stderr, /Sanitizer|runtime error:/, describeWarrend());
  if (!process.env.WARREN_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------- helpers

// An open rhea connection (its own container), or a rejection with the error.
const connections = []; // every connection, so that a failed test cannot keep node running

function connect(opts = {}) {
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const conn = container.connect({ host, port, reconnect: false, ...opts });
    connections.push(conn);
    conn.on('connection_open', () => resolve(conn));
    conn.on('connection_error', (ctx) => reject(new Error(`connection error: ${JSON.stringify(ctx.connection.error)}`)));
    conn.on('disconnected', (ctx) => reject(new Error(`disconnected: ${ctx.error || 'no error'}`)));
  });
}

function close(conn) {
  return new Promise((resolve) => {
    if (conn.is_closed()) return resolve();
    conn.on('connection_close', () => resolve());
    conn.on('disconnected', () => resolve());
    conn.close();
  });
}

// Sends each message (accepted by the broker before the promise resolves).
async function send(node, messages, opts = {}) {
  const conn = await connect(opts);
  const sender = conn.open_sender(node);
  await new Promise((resolve, reject) => {
    let i = 0;
    let accepted = 0;
    sender.on('sendable', () => {
      while (sender.sendable() && i < messages.length) sender.send(messages[i++]);
    });
    sender.on('accepted', () => { if (++accepted === messages.length) resolve(); });
    sender.on('rejected', (ctx) => reject(new Error(`rejected ${JSON.stringify(ctx.delivery.remote_state)}`)));
    sender.on('sender_error', (ctx) => reject(new Error(`sender error ${JSON.stringify(ctx.sender.error)}`)));
  });
  await close(conn);
}

// A receiver with no automatic credit and no automatic accept: the test
// grants credit and settles. Resolves once the broker attached it.
async function manualReceiver(conn, node) {
  const receiver = conn.open_receiver({ source: node, credit_window: 0, autoaccept: false });
  receiver.got = [];
  receiver.on('message', (ctx) => receiver.got.push({ message: ctx.message, delivery: ctx.delivery }));
  await new Promise((resolve, reject) => {
    receiver.on('receiver_open', resolve);
    receiver.on('receiver_error', (ctx) => reject(new Error(JSON.stringify(ctx.receiver.error))));
  });
  return receiver;
}

// Receives (and accepts) n messages from node over a new connection.
async function receive(node, n, opts = {}) {
  const conn = await connect(opts);
  const receiver = await manualReceiver(conn, node);
  receiver.add_credit(n);
  await waitFor(() => receiver.got.length >= n, 10000, `${n} messages from ${node}`);
  for (const { delivery } of receiver.got) delivery.accept();
  await sleep(50);
  await close(conn);
  return receiver.got.map(({ message }) => message);
}

const children = [];

function run(script, args) {
  const child = spawn(process.execPath, [path.join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => { child.out += d; });
  child.stderr.on('data', (d) => { child.err += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  children.push(child);
  return child;
}

async function finished(child, ms) {
  let timer;
  const code = await Promise.race([child.exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), ms); })]);
  clearTimeout(timer);
  if (code === 'timeout') child.kill('SIGKILL');
  assert.equal(code, 0, `${child.spawnargs.join(' ')}\nstdout: ${child.out}\nstderr: ${child.err}`);
  return child.out;
}

// --------------------------------------------------------------- tests

test('simple_send then simple_recv: 100 messages', T, async () => {
  const node = `/queue/${unique('simple')}`;
  const out = await finished(run('rhea_simple_send.js', ['-h', host, '-p', String(port), '-n', node, '-m', '100']), 20000);
  assert.equal(out, 'all messages confirmed\n');
  const got = await finished(run('rhea_simple_recv.js', ['-h', host, '-p', String(port), '-n', node, '-m', '100']), 20000);
  const expected = ['attached', ...Array.from({ length: 100 }, (_, i) => `{"sequence":${i + 1}}`)];
  assert.deepEqual(got.trim().split('\n'), expected);
});

test('simple_recv with a 5 s idle time-out stays connected while idle for 12 s', T, async () => {
  const node = `/queue/${unique('idle')}`;
  const recv = run('rhea_simple_recv.js', ['-h', host, '-p', String(port), '-n', node, '-m', '1', '-i', '5000']);
  await waitFor(() => recv.out.includes('attached') || recv.exitCode !== null, 10000, 'the receiver to attach');
  await sleep(12000); // rhea gives up after 2 x 5 s without a frame from the broker
  assert.equal(recv.exitCode, null, `simple_recv ended while idle\nstdout: ${recv.out}\nstderr: ${recv.err}`);
  await send(node, [{ body: 'after the idle time' }]);
  assert.equal(await finished(recv, 10000), 'attached\n"after the idle time"\n');
});

test('connections: no SASL (AMQP 0 1 0 0), SASL ANONYMOUS, SASL PLAIN', T, async () => {
  for (const opts of [{}, { username: 'anonymous' }, { username: 'guest', password: 'guest' }]) {
    const node = `/queue/${unique('auth')}`;
    await send(node, [{ body: 'hi' }], opts);
    const got = await receive(node, 1, opts);
    assert.equal(got[0].body, 'hi', JSON.stringify(opts));
  }
});

test('SASL PLAIN with a wrong password is refused', T, async () => {
  await assert.rejects(connect({ username: 'guest', password: 'wrong' }));
  await assert.rejects(connect({ username: 'no-such-user', password: 'guest' }));
  const node = `/queue/${unique('after')}`;
  await send(node, [{ body: 'still serving' }]);
  assert.equal((await receive(node, 1))[0].body, 'still serving');
});

test('credit 1 delivers exactly one message until more credit', T, async () => {
  const node = `/queue/${unique('credit')}`;
  await send(node, ['a', 'b', 'c'].map((body) => ({ body })));
  const conn = await connect();
  const receiver = await manualReceiver(conn, node);
  await sleep(200);
  assert.equal(receiver.got.length, 0, 'a message without credit');
  for (const [i, body] of ['a', 'b'].entries()) {
    receiver.add_credit(1);
    await waitFor(() => receiver.got.length === i + 1, 5000, `message ${i + 1}`);
    await sleep(200);
    assert.equal(receiver.got.length, i + 1, 'more than one message for one credit');
    assert.equal(receiver.got[i].message.body, body);
    receiver.got[i].delivery.accept();
  }
  await close(conn);
  assert.deepEqual((await receive(node, 1)).map((m) => m.body), ['c']);
});

test('drain: 10 credit on a queue of 3 gives 3, then the drain completes with credit 0',
  { ...T, skip: differsOnRabbitmq('3.10 ends the session with amqp:internal-error (function_clause, send_drained)') }, async () => {
    const node = `/queue/${unique('drain')}`;
    await send(node, ['d1', 'd2', 'd3'].map((body) => ({ body })));
    const conn = await connect();
    const receiver = await manualReceiver(conn, node);
    let drained = false;
    receiver.on('receiver_drained', () => { drained = true; });
    receiver.drain = true;
    receiver.add_credit(10);
    await waitFor(() => drained, 5000, 'receiver_drained');
    assert.deepEqual(receiver.got.map((g) => g.message.body), ['d1', 'd2', 'd3']);
    assert.equal(receiver.credit, 0);
    for (const { delivery } of receiver.got) delivery.accept();
    await sleep(50);
    await close(conn);
  });

test('a flow with echo is answered with the link state: available counts the ready messages',
  { ...T, skip: differsOnRabbitmq('not checked against RabbitMQ 3.10') }, async () => {
    const node = `/queue/${unique('available')}`;
    await send(node, ['v1', 'v2', 'v3', 'v4', 'v5'].map((body) => ({ body })));
    const conn = await connect();
    const receiver = await manualReceiver(conn, node);
    const flows = [];
    const onFlow = receiver.on_flow.bind(receiver);
    receiver.on_flow = (frame) => { flows.push(frame.performative); onFlow(frame); };
    receiver.add_credit(2);
    await waitFor(() => receiver.got.length === 2, 5000, '2 messages');
    await sleep(100);
    // rhea has no API for echo: the flow its session would write, plus echo.
    const session = receiver.session;
    session.output(frames.flow({
      next_incoming_id: session.incoming.next_transfer_id >>> 0, incoming_window: session.incoming.window,
      next_outgoing_id: session.outgoing.next_transfer_id >>> 0, outgoing_window: session.outgoing.window,
      handle: receiver.local.handle, delivery_count: receiver.delivery_count, link_credit: 0, echo: true,
    }));
    await waitFor(() => flows.length > 0, 5000, 'the echoed flow');
    const f = flows[flows.length - 1];
    assert.equal(f.delivery_count, 2);
    assert.equal(f.link_credit, 0);
    assert.equal(f.available, 3, 'three messages are still ready');
    for (const { delivery } of receiver.got) delivery.accept();
    await sleep(50);
    await close(conn);
  });

test('released comes back; rejected is gone', T, async () => {
  const node = `/queue/${unique('outcomes')}`;
  await send(node, ['r', 'x', 'y'].map((body) => ({ body })));
  const conn = await connect();
  const receiver = await manualReceiver(conn, node);
  receiver.add_credit(2);
  await waitFor(() => receiver.got.length === 2, 5000, '2 messages');
  receiver.got[0].delivery.release(); // no arguments: released, not modified
  // Another tick: rhea 3.0.5 merges two dispositions queued in one tick into
  // one range with the first's outcome (write_dispositions compares outcomes
  // only from the third delivery on).
  await sleep(50);
  receiver.got[1].delivery.reject({ condition: 'test:rejected', description: 'on purpose' });
  receiver.add_credit(2);
  await waitFor(() => receiver.got.length === 4, 5000, 'the released message and the next');
  assert.deepEqual(receiver.got.map((g) => g.message.body), ['r', 'x', 'r', 'y']);
  for (const { delivery } of receiver.got.slice(2)) delivery.accept();
  await sleep(50);
  await close(conn);
});

test('1 MiB messages both ways, in 4 KiB frames', T, async () => {
  const node = `/queue/${unique('big')}`;
  const body = Buffer.alloc(1 << 20, 0x5a);
  body.write('head', 0);
  body.write('tail', body.length - 4);
  await send(node, [{ body: rhea.message.data_section(body) }, { body: rhea.message.data_section(body) }],
    { max_frame_size: 4096 });
  const got = await receive(node, 2, { max_frame_size: 4096 });
  for (const m of got) assert.ok(Buffer.compare(m.body.content, body) === 0, `got ${m.body.content.length} bytes`);
});

test('message sections survive the broker', T, async () => {
  const node = `/queue/${unique('sections')}`;
  const sent = {
    message_id: 'id-1', correlation_id: 'corr-1', subject: 'subj', reply_to: 'somewhere',
    content_type: 'application/json', durable: true, priority: 6, ttl: 60000,
    application_properties: { s: 'str', n: 7, b: false },
    message_annotations: { 'x-opt-test': 'kept' },
    body: { nested: ['list', 1, true] },
  };
  await send(node, [sent]);
  const [m] = await receive(node, 1);
  for (const key of ['message_id', 'correlation_id', 'subject', 'reply_to', 'content_type', 'durable', 'priority',
    'ttl', 'application_properties', 'body']) {
    assert.deepEqual(m[key], sent[key], key);
  }
  assert.equal(m.message_annotations['x-opt-test'], 'kept');
});
