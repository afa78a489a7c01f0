#!/usr/bin/env node
// Kept tiny on purpose: all logic lives in the bundled dist/main.js.
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
