#!/usr/bin/env node
// Kept tiny on purpose: all logic lives in the bundled dist/main.js.
// The version check comes first, in syntax every Node since 12 parses (no
// top-level await, no ?.): the bundle uses APIs older Nodes lack, which
// would otherwise fail later as a confusing "internal error".
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(
    `error: agentauth needs Node.js 20.19 or newer; this is ${process.version} (${process.execPath})\n` +
      '  hint: get Node 20 or newer from NodeSource (deb.nodesource.com) or with nvm (nvm install 22); Debian 13 ships Node 20.19\n',
  );
  process.exit(2);
}

import('node:module')
  .then(({ default: module }) => {
    // Node 22+ can cache compiled code between runs; Node 20 lacks the API.
    if (typeof module.enableCompileCache === 'function') module.enableCompileCache();
    return import('../dist/main.js');
  })
  .then(({ main }) => main(process.argv.slice(2)))
  .then((code) => {
    process.exitCode = code;
  });
