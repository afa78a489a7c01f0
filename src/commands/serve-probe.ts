// Hook for `doctor`: is `agentauth serve` up? Returns null while this build
// has no serve command; the serve work fills it in (probe its socket or
// listen address, report "serve: up at …" or "not running" as info).
import type { Config } from '../core/config.js';
import type { DoctorCheck } from '../ui/render-core.js';
import type { Context } from './context.js';

export async function probeServe(_ctx: Context, _config: Config | null): Promise<DoctorCheck | null> {
  return null;
}
