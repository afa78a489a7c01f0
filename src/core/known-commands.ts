// What people type for an agent CLI, and the command it actually installs,
// for `run`'s "command not found" hint (`agentauth run -- claude-code`).

interface KnownCommand {
  command: string;
  /** Names people use for it that are not the command. */
  aliases: string[];
  install: string;
}

const KNOWN: readonly KnownCommand[] = [
  { command: 'claude', aliases: ['claude-code', 'claudecode', 'claude_code'], install: 'npm install -g @anthropic-ai/claude-code' },
  { command: 'codex', aliases: ['codex-cli', 'openai-codex'], install: 'npm install -g @openai/codex' },
  { command: 'gemini', aliases: ['gemini-cli', 'google-gemini'], install: 'npm install -g @google/gemini-cli' },
  { command: 'aider', aliases: ['aider-chat', 'aider-ai'], install: 'pipx install aider-chat' },
  { command: 'opencode', aliases: ['opencode-ai', 'open-code'], install: 'npm install -g opencode-ai' },
  { command: 'copilot', aliases: ['github-copilot', 'copilot-cli', 'github-copilot-cli'], install: 'npm install -g @github/copilot' },
  { command: 'gh', aliases: ['github', 'github-cli', 'gh-cli'], install: 'see https://cli.github.com' },
  { command: 'goose', aliases: ['goose-cli'], install: 'see https://block.github.io/goose' },
];

/**
 * The hint for a command that was not found: the command a known alias
 * stands for, and how to install it when it is missing too. Null when the
 * name is no known alias.
 */
export function suggestCommand(name: string, isInstalled: (command: string) => boolean): string | null {
  const lower = name.toLowerCase();
  const known = KNOWN.find((entry) => entry.aliases.includes(lower));
  if (!known) return null;
  if (isInstalled(known.command)) return `the command is called ${known.command}: agentauth run -- ${known.command}`;
  return `the command is called ${known.command}, and it is not on PATH either; install it (${known.install}), then: agentauth run -- ${known.command}`;
}
