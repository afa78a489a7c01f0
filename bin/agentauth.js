#!/usr/bin/env node
// Kept tiny on purpose: all logic lives in dist/. CommonJS (see bin/package.json)
// so that a `token mint` answered by a running serve does not pay for the ES
// module loader's start-up (measured in BENCHMARKS.md); the command tree is
// ES modules, loaded by dist/main.cjs only when needed.
'use strict';

// Node 22+ can cache compiled code between runs; Node 20 lacks the API.
require('node:module').enableCompileCache?.();
const { main } = require('../dist/main.cjs');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
