// run's hint for a command that was not found (src/core/known-commands.ts).
import { describe, expect, it } from 'vitest';
import { suggestCommand } from '../../src/core/known-commands.js';

describe('suggestCommand', () => {
  it('names the real command for what people type, and how to install it when it is missing too', () => {
    expect(suggestCommand('claude-code', () => true)).toBe('the command is called claude: agentauth run -- claude');
    expect(suggestCommand('Claude-Code', () => false)).toContain('npm install -g @anthropic-ai/claude-code');
    expect(suggestCommand('codex-cli', () => true)).toContain('agentauth run -- codex');
    expect(suggestCommand('gemini-cli', () => true)).toContain('agentauth run -- gemini');
    expect(suggestCommand('aider-chat', () => false)).toContain('pipx install aider-chat');
  });

  it('says nothing for a name it does not know', () => {
    expect(suggestCommand('no-such-thing', () => true)).toBeNull();
    expect(suggestCommand('claude', () => false)).toBeNull();
  });
});
