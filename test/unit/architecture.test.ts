// The layering the README promises, checked from the sources: src/main.ts →
// src/cli/ → src/commands → src/core (+ src/ui), no import cycle anywhere in
// src, and src/core free of the process, the console and colour. Type-only
// and dynamic imports count like any other.
// Also: test/unit mirrors src/core, and nothing is exported that no one uses.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
 * test/unit/<path>[.<aspect>].test.ts tests src/core/<path>.ts (or the folder
 * src/core/<path>/). Tests of code outside src/core live in these folders.
 */
const NON_CORE_TEST_FOLDERS: Record<string, string> = {
  'test/unit/cli/': 'src/main.ts, src/cli/, src/commands/ and src/fast-mint.ts',
  'test/unit/verify/': 'src/verify/, the agentauth/verify library',
  'test/unit/build/': 'scripts/, the build and its module stand-ins',
};

/** Tests of src as a whole, or of a src/core folder as a whole, rather than of one file. */
const WHOLE_TESTS: Record<string, string> = {
  'test/unit/architecture.test.ts': 'the layering of src',
  'test/unit/audit/vectors.test.ts': 'test/vectors recomputed through the audit modules',
  'test/unit/gateway/fuzz.test.ts': 'the whole gateway under generated requests',
  'test/unit/gateway/fuzz-canary.test.ts': 'the fuzz property against gateways broken on purpose',
};

function listFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(path, pattern);
    return pattern.test(entry.name) ? [relative(REPO_ROOT, path)] : [];
  });
}

function listSources(dir: string): string[] {
  return listFiles(dir, /\.ts$/);
}

function layerOf(file: string): Layer {
  if (file === 'src/main.ts') return 'main';
  if (file.startsWith('src/cli/')) return 'cli';
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
    expect(graph.get('src/main.ts')).toContain('src/cli/program.ts');
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

  it('test/unit mirrors src/core: each unit test names the src/core file or folder it tests', () => {
    const unmatched: string[] = [];
    for (const test of listFiles(join(REPO_ROOT, 'test/unit'), /\.test\.ts$/)) {
      if (Object.keys(NON_CORE_TEST_FOLDERS).some((folder) => test.startsWith(folder)) || test in WHOLE_TESTS) continue;
      // test/unit/audit/writer.test.ts → src/core/audit/writer; tokens.mint-defaults.test.ts → src/core/tokens.
      const subject = test.replace(/^test\/unit\//, 'src/core/').replace(/(\.[\w-]+)?\.test\.ts$/, '');
      if (!existsSync(join(REPO_ROOT, `${subject}.ts`)) && !existsSync(join(REPO_ROOT, subject))) unmatched.push(`${test}: no ${subject}.ts or ${subject}/`);
    }
    expect(unmatched, 'name a unit test after its src/core subject (an aspect may follow a dot), or put it in a folder of NON_CORE_TEST_FOLDERS').toEqual([]);
  });

  it('test/unit holds only tests: fixtures and helpers live in test/fixtures and test/helpers', () => {
    expect(listFiles(join(REPO_ROOT, 'test/unit'), /./).filter((file) => !file.endsWith('.test.ts'))).toEqual([]);
  });

  it('no dead exports: every exported value is named by another file, every exported type by someone (outside the public libraries)', () => {
    const others = [...listFiles(SRC, /\.[cm]?ts$/), ...['test', 'bench', 'scripts', 'bin'].flatMap((dir) => listFiles(join(REPO_ROOT, dir), /\.([cm]?[tj]s)$/))];
    const texts = new Map(others.map((file) => [file, readFileSync(join(REPO_ROOT, file), 'utf8')]));
    const dead: string[] = [];
    for (const file of files) {
      // The libraries' exports are their public surface.
      if (file === 'src/lib.ts' || file.startsWith('src/verify/')) continue;
      const text = texts.get(file)!;
      for (const [, kind, name] of text.matchAll(/^export\s+(?:declare\s+)?(?:async\s+)?(function\*?|const|let|class|enum|interface|type)\s+([\w$]+)/gm)) {
        const word = `\\b${name!.replace(/\$/g, '\\$')}\\b`;
        if (others.some((other) => other !== file && new RegExp(word).test(texts.get(other)!))) continue;
        // A type that describes an exported function's parameters or result stays exported with it.
        if ((kind === 'interface' || kind === 'type') && (text.match(new RegExp(word, 'g')) ?? []).length > 1) continue;
        dead.push(`${file}: ${name}`);
      }
    }
    expect(dead, 'drop the export (or the code, if nothing uses it)').toEqual([]);
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
    expect(found).toEqual({});
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
