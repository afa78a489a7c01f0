#!/usr/bin/env node
// Kept tiny on purpose: all logic lives in dist/. CommonJS (see bin/package.json)
// so that a `token mint` answered by a running serve does not pay for the ES
// module loader's start-up (measured in BENCHMARKS.md); the command tree is
// ES modules, loaded by dist/main.cjs only when needed.
//
// The version check comes first, in syntax every Node since 12 parses (no
// ?. here): the bundle uses APIs older Nodes lack, which would otherwise fail
// later as a confusing "internal error".
'use strict';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(
    `error: agentauth needs Node.js 20.19 or newer; this is ${process.version} (${process.execPath})\n` +
      '  hint: get Node 20 or newer from NodeSource (deb.nodesource.com) or with nvm (nvm install 22); Debian 13 ships Node 20.19\n',
  );
  process.exit(2);
}

// Node 22+ can cache compiled code between runs; Node 20 lacks the API.
const nodeModule = require('node:module');
if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();
const { main } = require('../dist/main.cjs');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
