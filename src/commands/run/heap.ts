// Memory settings for a process that serves traffic for as long as a child
// runs (`agentauth run`, and `agentauth serve`). V8's defaults suit a browser tab on a big machine;
// a gateway on a Pi should stay small. V8 reads these flags when it next
// needs them, so they can be set at run time: a start-up flag such as
// --max-semi-space-size cannot be passed by a process to itself.
//
// Measured on the gateway benchmark (32 connections, Node 20), peak RSS
// went from ~95 MiB to ~75-79 MiB:
//   - young generation: V8 doubles it after scavenges up to 16 MiB per
//     semi-space (Node 24: 64 MiB), ~30 MiB of RSS. It is held at 4 MiB per
//     semi-space. Request objects live for milliseconds: they still die young.
//   - old generation: V8 lets it grow by up to 4× its live size before the
//     next full collection on a machine with plenty of memory. It is allowed
//     1.25× (and at least V8's 8 MiB step).
//   - WebAssembly: undici parses HTTP with llhttp compiled to WebAssembly;
//     tiering it up to TurboFan under load cost a transient ~20 MiB. Liftoff
//     code alone parsed as fast in the benchmark.
//
// V8 prints "Error: unrecognized flag" straight into the terminal (the
// child's too) for a flag it does not know, and flags come and go between
// V8 versions. So the flags are set only on the Node majors whose V8 was
// checked to have them all (test/unit/cli/heap.test.ts runs `--v8-options`);
// elsewhere nothing is set. AGENTAUTH_NO_HEAP_TUNING=1 turns it all off.
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

const MIB = 1024 * 1024;
const SEMI_SPACE_MIB = 4;
const OLD_GENERATION_GROWTH_PERCENT = 25;

/** The V8 flags set, by name (without values). */
export const HEAP_FLAGS = ['liftoff-only', 'heap-growing-percent', 'semi-space-growth-factor'] as const;
/** Node majors whose V8 has every flag in HEAP_FLAGS. */
export const TUNED_NODE_MAJORS: readonly number[] = [20, 22, 24];

/** Whether this process should tune its heap: a checked Node, and not turned off. */
export function shouldTuneHeap(env: Record<string, string | undefined>, nodeVersion = process.versions.node): boolean {
  if (env['AGENTAUTH_NO_HEAP_TUNING'] === '1') return false;
  return TUNED_NODE_MAJORS.includes(Number(nodeVersion.split('.')[0]));
}

/** Applies the settings above (when shouldTuneHeap); returns a function that stops watching the young generation. */
export function tuneHeapForLongRun(env: Record<string, string | undefined>): () => void {
  if (!shouldTuneHeap(env)) return () => {};
  setFlagsFromString('--liftoff-only');
  setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
  return capYoungGeneration(SEMI_SPACE_MIB);
}

/**
 * V8 reads its growth factor each time it grows the young generation: allow
 * growth (factor 2) while it is below the cap and forbid it (factor 1) at
 * the cap, re-checked after every scavenge.
 */
function capYoungGeneration(semiSpaceMiB: number): () => void {
  // new_space's size covers both semi-spaces.
  const cap = 2 * semiSpaceMiB * MIB;
  let growing: boolean | null = null;
  const check = (): void => {
    const space = getHeapSpaceStatistics().find((entry) => entry.space_name === 'new_space');
    if (!space) return;
    const allow = space.space_size < cap;
    if (allow === growing) return;
    growing = allow;
    setFlagsFromString(`--semi-space-growth-factor=${allow ? 2 : 1}`);
  };
  check();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // gc entries carry { kind } in `detail` (Node ≥ 16); @types/node 20 does not declare it.
      if ((entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) return check();
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
