// Command-line options for rhea_simple_send.js / rhea_simple_recv.js, in the
// style of rhea's own examples (-m, -n, -p), without a yargs dependency.
'use strict';

module.exports = function parse(argv, defaults) {
  const names = { m: 'messages', n: 'node', p: 'port', h: 'host', u: 'username', w: 'password', i: 'idle_time_out' };
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.startsWith('--') ? a.slice(2).replace(/-/g, '_') : names[a.slice(1)];
    if (!key || !(key in opts) || i + 1 >= argv.length) {
      console.error(`unknown or incomplete option ${a}; options: ${JSON.stringify(Object.keys(opts))}`);
      process.exit(64);
    }
    opts[key] = typeof defaults[key] === 'number' ? Number(argv[++i]) : argv[++i];
  }
  return opts;
};
