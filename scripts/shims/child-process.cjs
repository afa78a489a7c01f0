// Build-time stand-in for node:child_process inside commander, which needs it
// only to spawn executable subcommands (agentauth has none). Loading the real
// module eagerly pulls in net, dgram and streams: ~4 ms on every start.
let real;
module.exports = new Proxy({}, { get: (_target, key) => (real ??= require('node:child_process'))[key] });
