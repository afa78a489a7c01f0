// Build-time stand-in for graceful-fs inside proper-lockfile: its EMFILE
// queueing guards programs with thousands of open files, and its start-up
// patching of fs cost ~10 ms per process, a third of `token mint`'s budget.
module.exports = require('node:fs');
