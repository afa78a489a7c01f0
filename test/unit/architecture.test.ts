// The layering the README promises, checked from the sources: src/main.ts →
// src/cli (cli*.ts today, src/cli/ later) → src/commands → src/core (+ src/ui),
// no import cycle anywhere in src, and src/core free of the process, the
// console and colour. Type-only and dynamic imports count like any other.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const SRC = join(REPO_ROOT, 'src');

type Layer = 'main' | 'cli' | 'commands' | 'ui' | 'core' | 'verify' | 'top';

/** Which layers each layer may import: arrows go one way, down this list. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  main: ['main', 'top', 'cli', 'commands', 'ui', 'core'],
  cli: ['cli', 'top', 'commands', 'ui', 'core'],
  commands: ['commands', 'top', 'ui', 'core'],
  ui: ['ui', 'core'],
  core: ['core'],
  // agentauth/verify, built for any JavaScript runtime: its own files and the pure core it shares.
  verify: ['verify', 'core'],
  // src/version.ts, src/lib.ts, src/fast-mint.ts: beside main.ts.
  top: ['top', 'commands', 'core'],
};

/**
 * src/core files that still read the process, and what they read: to be passed
 * in. The test fails when one is fixed (so the entry goes) or a new one appears.
 */
const CORE_PROCESS_DEBT: Record<string, string[]> = {
  // The uid every private-file check compares owners with; passing it in touches every reader of a private file.
  'src/core/fs-safe.ts': ['process.getuid'],
};

function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSources(path);
    return entry.name.endsWith('.ts') ? [relative(REPO_ROOT, path)] : [];
  });
}

function layerOf(file: string): Layer {
  if (file === 'src/main.ts') return 'main';
  if (/^src\/cli(-[^/]+)?\.ts$/.test(file) || file.startsWith('src/cli/')) return 'cli';
  if (file.startsWith('src/commands/')) return 'commands';
  if (file.startsWith('src/ui/')) return 'ui';
  if (file.startsWith('src/core/')) return 'core';
  if (file.startsWith('src/verify/')) return 'verify';
  return 'top';
}

/** Comments out, strings kept: an import's specifier is a string. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Every module specifier: static imports and re-exports (type-only too), and import('…'). */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g)) found.push(match[1]!);
  for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1]!);
  return found;
}

const files = listSources(SRC);
const sources = new Map(files.map((file) => [file, stripComments(readFileSync(join(REPO_ROOT, file), 'utf8'))]));
const graph = new Map(
  files.map((file) => [
    file,
    importsOf(sources.get(file)!)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), spec)).replace(/\.js$/, '.ts')),
  ]),
);

describe('architecture', () => {
  it('reads every import of src (static, type-only and dynamic)', () => {
    expect(files).toContain('src/main.ts');
    expect(graph.get('src/main.ts')).toContain('src/cli.ts');
    for (const [file, targets] of graph) for (const target of targets) expect(files, `${file} imports ${target}`).toContain(target);
  });

  it('imports go one way: main → cli → commands → core (+ ui), and core reaches nothing above it', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) if (!MAY_IMPORT[layerOf(file)].includes(layerOf(target))) wrong.push(`${file} (${layerOf(file)}) → ${target} (${layerOf(target)})`);
    }
    expect(wrong).toEqual([]);
  });

  it('there is no import cycle anywhere in src', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('src/core uses no process, console or colour, and does not import node:process', () => {
    const found: Record<string, string[]> = {};
    for (const [file, text] of sources) {
      if (layerOf(file) !== 'core') continue;
      const uses = new Set<string>();
      for (const match of text.matchAll(/\bprocess\.[\w]+|\bconsole\.\w+|\bstyleText\b/g)) uses.add(match[0]);
      for (const spec of importsOf(text)) if (/^(node:)?process$|^(kleur|chalk|picocolors|ansi-colors)(\/|$)/.test(spec)) uses.add(`import ${spec}`);
      if (uses.size > 0) found[file] = [...uses].sort();
    }
    expect(found).toEqual(CORE_PROCESS_DEBT);
  });
});

/** The strongly connected components with more than one file, or a file importing itself (Tarjan). */
function findCycles(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (edges.get(node) ?? []).includes(node)) cycles.push(component.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return cycles;
}
