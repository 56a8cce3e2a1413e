// amqplib (Node) closing with frames in flight (issue 10): a burst of
// sendToQueue and connection.close(cb) at once through the callback API,
// and 32 concurrent close() calls on one connection and on one channel.
//
// amqplib writes its connection.close ahead of the publishes its channel
// still buffers, so the broker reads a close followed by many frames: it
// must answer close-ok, discard the rest (as the 0-9-1 spec says) and close
// without a reset, which the client would see as `write EPIPE` or
// `ECONNRESET` instead of its close callback. Run by run_amqplib.sh.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');
const cbapi = require('amqplib/callback_api');
const { useWarrend } = require('./node_warrend');

const broker = useWarrend();

const unique = (what) => `node.${what}.${Math.random().toString(16).slice(2, 8)}`;

// Resolves with the value of `promise`, or rejects after `ms` saying
// `what` (a string, or a function giving one then).
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)),
      ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Callback API: a channel, `n` sendToQueue in one synchronous loop, then
// connection.close(cb) straight away. Resolves with what close's callback
// got; `events` collects every 'error' event of the connection or channel.
function burstThenClose(n, events) {
  return new Promise((resolve, reject) => {
    cbapi.connect(broker.url, (err, conn) => {
      if (err) return reject(err);
      conn.on('error', (e) => events.push(`connection error: ${e.message}`));
      conn.createChannel((err2, ch) => {
        if (err2) return reject(err2);
        ch.on('error', (e) => events.push(`channel error: ${e.message}`));
        const q = unique(`burst${n}`);
        ch.assertQueue(q, {}, (err3) => {
          if (err3) return reject(err3);
          for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`message ${i}`));
          try {
            conn.close((closeErr) => resolve({ closeErr, q }));
          } catch (e) {
            reject(e);
          }
        });
      });
    });
  });
}

async function messageCount(q) {
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(q)).messageCount;
  } finally {
    await conn.close();
  }
}

for (const n of [100, 1000, 4000]) {
  test(`callback API: ${n} sendToQueue then connection.close(cb) at once`, async () => {
    for (let round = 1; round <= 3; round++) {
      const events = [];
      const { closeErr, q } = await within(burstThenClose(n, events), 10000,
        () => `round ${round}: close's callback was not called (events: ${events.join('; ') || 'none'})`);
      assert.equal(closeErr, null, `round ${round}: close's callback got an error`);
      assert.deepEqual(events, [], `round ${round}: error events while closing`);
      // Publishes written after the close are discarded; those before it
      // are routed. amqplib decides which is which; both are fine.
      const count = await messageCount(q);
      assert.ok(count >= 0 && count <= n, `round ${round}: ${count} messages in the queue, sent ${n}`);
    }
  });
}

// Each of 32 close() calls resolves, or rejects with amqplib's own
// IllegalOperationError ("Connection closing", "Channel closing", "... closed
// ..."): never an error from the server, never a reset.
function assertCloseResults(results, what) {
  const fulfilled = results.filter((r) => r.status === 'fulfilled');
  assert.ok(fulfilled.length >= 1, `${what}: no close() resolved: ${results.map((r) => r.reason).join('; ')}`);
  for (const r of results) {
    if (r.status === 'rejected') {
      assert.equal(r.reason.name, 'IllegalOperationError', `${what}: ${r.reason.stack}`);
      assert.match(r.reason.message, /clos(ed|ing)/i, `${what}: ${r.reason.message}`);
    }
  }
}

test('promise API: 32 concurrent connection.close(), with publishes in flight', async () => {
  for (let round = 1; round <= 5; round++) {
    const conn = await amqp.connect(broker.url);
    const events = [];
    conn.on('error', (e) => events.push(`connection error: ${e.message}`));
    const ch = await conn.createChannel();
    const q = unique('concurrent');
    await ch.assertQueue(q);
    for (let i = 0; i < 1000; i++) ch.sendToQueue(q, Buffer.from(`message ${i}`));
    const results = await within(Promise.allSettled(Array.from({ length: 32 }, () => conn.close())), 10000,
      () => `round ${round}: 32 close() calls did not all settle (events: ${events.join('; ') || 'none'})`);
    assertCloseResults(results, `round ${round}`);
    assert.deepEqual(events, [], `round ${round}: error events while closing`);
  }
});

test('promise API: 32 concurrent channel.close() on one channel; the connection carries on', async () => {
  const conn = await amqp.connect(broker.url);
  const events = [];
  conn.on('error', (e) => events.push(`connection error: ${e.message}`));
  try {
    for (let round = 1; round <= 5; round++) {
      const ch = await conn.createChannel();
      ch.on('error', (e) => events.push(`channel error: ${e.message}`));
      const q = unique('chclose');
      await ch.assertQueue(q);
      for (let i = 0; i < 100; i++) ch.sendToQueue(q, Buffer.from(`message ${i}`));
      const results = await within(Promise.allSettled(Array.from({ length: 32 }, () => ch.close())), 10000,
        () => `round ${round}: 32 channel close() calls did not all settle (events: ${events.join('; ') || 'none'})`);
      assertCloseResults(results, `round ${round}`);
      const ch2 = await conn.createChannel();
      assert.equal((await ch2.checkQueue(q)).messageCount, 100, `round ${round}: publishes before the close`);
      await ch2.close();
    }
    assert.deepEqual(events, [], 'error events');
  } finally {
    await within(conn.close(), 15000, 'the final connection.close()');
  }
});
