// Receives N messages from a node, printing each body as JSON, then closes.
// Like rhea's examples/simple_recv.js (which the npm package does not ship),
// plus --idle-time-out MS (advertised in open: rhea then gives up on a broker
// silent for twice that) and "attached" once the receiver is open. Any
// error or disconnection fails with a message and status 2.
'use strict';

const rhea = require('rhea');
const args = require('./rhea_args')(process.argv.slice(2),
  { messages: 100, node: 'examples', port: 5672, host: '127.0.0.1', idle_time_out: 0 });

const fail = (what) => { console.error(what); process.exit(2); };
const container = rhea.create_container();
let received = 0;

container.on('receiver_open', () => console.log('attached'));
container.on('message', (context) => {
  const id = context.message.message_id;
  if (id !== undefined && id < received) return; // a duplicate
  if (args.messages === 0 || received < args.messages) {
    console.log(JSON.stringify(context.message.body));
    if (++received === args.messages) {
      context.receiver.detach();
      context.connection.close();
    }
  }
});
container.on('receiver_error', (context) => fail(`receiver error: ${JSON.stringify(context.receiver.error)}`));
container.on('connection_error', (context) => fail(`connection error: ${JSON.stringify(context.connection.error)}`));
container.on('disconnected', (context) => {
  if (received < args.messages || args.messages === 0) fail(`disconnected after ${received}: ${context.error || ''}`);
});

const conn = { host: args.host, port: args.port, reconnect: false };
if (args.idle_time_out) conn.idle_time_out = args.idle_time_out;
container.connect(conn).open_receiver(args.node);
