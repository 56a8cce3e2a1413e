// Sends N messages ({sequence: i}, message_id i) to a node and waits until
// the broker accepted every one: "all messages confirmed". Like rhea's
// examples/simple_send.js (which the npm package does not ship), but any
// error, rejection or disconnection fails with a message and status 1.
'use strict';

const rhea = require('rhea');
const args = require('./rhea_args')(process.argv.slice(2),
  { messages: 100, node: 'examples', port: 5672, host: '127.0.0.1', username: '', password: '' });

const fail = (what) => { console.error(what); process.exit(1); };
const container = rhea.create_container();
let sent = 0;
let confirmed = 0;

container.on('sendable', (context) => {
  while (context.sender.sendable() && sent < args.messages) {
    sent++;
    context.sender.send({ message_id: sent, body: { sequence: sent } });
  }
});
container.on('accepted', (context) => {
  if (++confirmed === args.messages) {
    console.log('all messages confirmed');
    context.connection.close();
  }
});
container.on('rejected', (context) => fail(`rejected: ${JSON.stringify(context.delivery.remote_state)}`));
container.on('released', () => fail('released'));
container.on('sender_error', (context) => fail(`sender error: ${JSON.stringify(context.sender.error)}`));
container.on('connection_error', (context) => fail(`connection error: ${JSON.stringify(context.connection.error)}`));
container.on('disconnected', (context) => {
  if (confirmed < args.messages) fail(`disconnected after ${confirmed} confirmed: ${context.error || ''}`);
});

const conn = { host: args.host, port: args.port, reconnect: false };
if (args.username) Object.assign(conn, { username: args.username, password: args.password || undefined });
container.connect(conn).open_sender(args.node);
