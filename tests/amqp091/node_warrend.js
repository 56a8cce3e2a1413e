// Starts one warrend ($WARREN_WARREND, set by CTest) on a free port for a
// Node test file and stops it with SIGTERM at the end: a non-zero exit or a
// sanitizer report fails the file. WARREN_KEEP_TMP=1 keeps its temp dir.
//
//   const broker = require('./node_warrend').useWarrend();
//   test('...', async () => { await amqp.connect(broker.url); });
'use strict';

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Registers the before/after hooks; the returned object's `url` is set once
// warrend listens, and `describe()` gives its output for failure messages.
function useWarrend(extraArgs = []) {
  const broker = { url: undefined, stdout: '', stderr: '', proc: undefined, dir: undefined };
  broker.describe = () =>
    `--- warrend stdout:\n${broker.stdout.slice(-4000)}\n--- warrend stderr:\n${broker.stderr.slice(-4000)}`;

  before(async () => {
    const bin = process.env.WARREN_WARREND;
    assert.ok(bin && fs.existsSync(bin), `$WARREN_WARREND must name warrend, got ${bin}`);
    broker.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wamqp-node-'));
    const proc = spawn(bin, ['--data-dir', path.join(broker.dir, 'data'),
      '--socketlock-path', path.join(broker.dir, 'sl.sock'), '--amqp-port', '0', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    broker.proc = proc;
    proc.stdout.on('data', (d) => { broker.stdout += d; });
    proc.stderr.on('data', (d) => { broker.stderr += d; });
    const deadline = Date.now() + 20000;
    for (;;) {
      const m = /AMQP 0-9-1 listening on ([0-9.]+):(\d+)/.exec(broker.stdout);
      if (m) {
        broker.url = `amqp://guest:guest@${m[1]}:${m[2]}`;
        return;
      }
      if (proc.exitCode !== null) throw new Error(`warrend exited early\n${broker.describe()}`);
      if (Date.now() > deadline) throw new Error(`warrend did not listen\n${broker.describe()}`);
      await sleep(20);
    }
  });

  after(async () => {
    const proc = broker.proc;
    if (!proc) return;
    const exited = proc.exitCode !== null ? Promise.resolve(proc.exitCode)
      : new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
    proc.kill('SIGTERM');
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), 30000); });
    const code = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (code === 'timeout') proc.kill('SIGKILL');
    assert.equal(code, 0, `warrend's exit after SIGTERM\n${broker.describe()}`);
    assert.doesNotMatch(broker.stderr, /Sanitizer|runtime error:/, broker.describe());
    if (!process.env.WARREN_KEEP_TMP) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  return broker;
}

module.exports = { useWarrend, sleep };
