// `agentauth secret|grant|run` (gateway.md).
import type { Command } from 'commander';
import type { CliKit } from './cli.js';

export function declareGatewayCommands(program: Command, kit: CliKit): void {
  void program;
  void kit;
}
