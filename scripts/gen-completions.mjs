// Regenerates completions/ from the built command tree (npm run completions).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const targets = { bash: 'completions/agentauth.bash', zsh: 'completions/_agentauth', fish: 'completions/agentauth.fish' };
for (const [shell, file] of Object.entries(targets)) {
  const text = execFileSync(process.execPath, ['bin/agentauth.js', 'completion', shell], { encoding: 'utf8' });
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
