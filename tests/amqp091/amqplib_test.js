// amqplib (Node) against warrend: connect, assertQueue, sendToQueue,
// consume with ack, a confirm channel's waitForConfirms, prefetch.
// Starts its own warrend ($WARREN_WARREND, node_warrend.js) on a free port and stops it with
// SIGTERM at the end: a non-zero exit or a sanitizer report fails the run.
// Run by run_amqplib.sh (which installs amqplib from package-lock.json).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');
const { useWarrend, sleep } = require('./node_warrend');

const broker = useWarrend();

async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const unique = (what) => `node.${what}.${Math.random().toString(16).slice(2, 8)}`;

test('connect, assertQueue, sendToQueue, consume with ack', async () => {
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createChannel();
    const q = unique('work');
    const ok = await ch.assertQueue(q, { durable: true });
    assert.deepEqual(ok, { queue: q, messageCount: 0, consumerCount: 0 });
    for (let i = 0; i < 3; i++) {
      ch.sendToQueue(q, Buffer.from(`job ${i}`), { persistent: true, contentType: 'text/plain',
        headers: { attempt: i } });
    }
    const got = [];
    const done = new Promise((resolve) => {
      ch.consume(q, (msg) => {
        got.push({ body: msg.content.toString(), attempt: msg.properties.headers.attempt,
          mode: msg.properties.deliveryMode, tag: msg.fields.deliveryTag, redelivered: msg.fields.redelivered });
        ch.ack(msg);
        if (got.length === 3) resolve();
      }, { noAck: false });
    });
    let timer;
    await Promise.race([done, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    assert.deepEqual(got, [0, 1, 2].map((i) => ({ body: `job ${i}`, attempt: i, mode: 2, tag: i + 1,
      redelivered: false })));
    const check = await ch.checkQueue(q);
    assert.equal(check.messageCount, 0);
    assert.equal(check.consumerCount, 1);
    // A server-named exclusive queue.
    const anon = await ch.assertQueue('', { exclusive: true });
    assert.match(anon.queue, /^amq\.gen-/);
    await ch.close();
  } finally {
    await conn.close();
  }
});

test('confirm channel: waitForConfirms and per-publish callbacks', async () => {
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createConfirmChannel();
    const q = unique('confirm');
    await ch.assertQueue(q);
    const n = 1000;
    let acked = 0;
    for (let i = 0; i < n; i++) {
      ch.sendToQueue(q, Buffer.from(String(i)), {}, (err) => {
        assert.equal(err, null, `publish ${i} nacked`);
        acked++;
      });
    }
    await ch.waitForConfirms();
    assert.equal(acked, n);
    assert.equal((await ch.checkQueue(q)).messageCount, n);
    await ch.close();
  } finally {
    await conn.close();
  }
});

test('prefetch limits unacked deliveries', async () => {
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createChannel();
    const q = unique('prefetch');
    await ch.assertQueue(q);
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.prefetch(2);
    const got = [];
    await ch.consume(q, (msg) => got.push(msg));
    const bodies = () => got.map((m) => m.content.toString());
    await waitFor(() => got.length >= 2, 5000, 'two deliveries');
    await sleep(200);
    assert.deepEqual(bodies(), ['0', '1'], 'prefetch 2: two unacked at most');
    ch.ack(got[0]);
    await waitFor(() => got.length >= 3, 5000, 'a delivery after one ack');
    await sleep(200);
    assert.deepEqual(bodies(), ['0', '1', '2'], 'one ack, one more delivery');
    ch.ackAll();
    await waitFor(() => got.length >= 5, 5000, 'the rest after ackAll');
    assert.deepEqual(bodies(), ['0', '1', '2', '3', '4']);
    await ch.close();
  } finally {
    await conn.close();
  }
});

test('errors: checkQueue of a missing queue is 404 and closes the channel only', async () => {
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => {}); // the channel error is expected
    await assert.rejects(ch.checkQueue('node.no-such-queue'),
      (err) => err.code === 404 && /NOT_FOUND - no queue 'node.no-such-queue' in vhost '\/'/.test(err.message));
    const ch2 = await conn.createChannel();
    const q = await ch2.assertQueue('', { exclusive: true });
    assert.ok(q.queue);
    await ch2.close();
  } finally {
    await conn.close();
  }
});
