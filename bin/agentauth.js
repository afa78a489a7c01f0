#!/usr/bin/env node
// Kept tiny on purpose: all logic lives in the bundled dist/main.js.
import module from 'node:module';

// Node 22+ can cache compiled code between runs; Node 20 lacks the API.
module.enableCompileCache?.();
const { main } = await import('../dist/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
