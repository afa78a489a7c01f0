// Regenerates man/agentauth.1 from the built command tree (npm run man).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const text = execFileSync(process.execPath, ['bin/agentauth.js', 'manpage'], { encoding: 'utf8' });
mkdirSync('man', { recursive: true });
writeFileSync('man/agentauth.1', text);
console.log('wrote man/agentauth.1');
