// `agentauth audit …` (audit-log.md). Declared apart from cli.ts so the audit
// surface can be read in one place.
import type { Command } from 'commander';
import type { CliKit } from './cli.js';

export function declareAuditCommands(program: Command, kit: CliKit): void {
  void program;
  void kit;
}
