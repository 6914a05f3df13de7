// The import rule of README "Layout": signaling, media, bot and sdp do not use each other, nor stream or call; stream
// uses media and bot only; call uses them all (call -> stream -> media/bot).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const LEAVES = ['signaling', 'media', 'bot', 'sdp'] as const;
const FORBIDDEN = new Set<string>([...LEAVES, 'stream', 'call']);
/** What stream may import besides itself. */
const STREAM_USES = new Set<string>(['media', 'bot']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Every relative module a file imports or re-exports (static or dynamic). */
function relativeImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** The src/ folder a path lies in ('' for a file at src/ itself, undefined outside src/). */
function folderOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '';
}

describe('layering', () => {
  it('finds the imports it checks', () => {
    expect(relativeImports(`import { a } from '../media/g711.js';\nexport { b } from "./x.js";\nimport type { C } from '../../call/y.js';\nconst d = await import('../sdp/z.js');`)).toEqual([
      '../media/g711.js',
      './x.js',
      '../../call/y.js',
      '../sdp/z.js',
    ]);
  });

  /** Imports from `folder` into another src/ folder that `allowed` refuses. */
  function violations(folder: string, allowed: (target: string) => boolean): string[] {
    const files = tsFiles(join(SRC, folder));
    expect(files.length).toBeGreaterThan(0);
    const found: string[] = [];
    for (const file of files) {
      for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
        const target = folderOf(resolve(dirname(file), spec));
        if (target !== undefined && target !== folder && !allowed(target)) found.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    return found;
  }

  it.each(LEAVES)('src/%s imports none of signaling, media, bot, sdp (but itself) nor stream or call', (leaf) => {
    expect(violations(leaf, (target) => !FORBIDDEN.has(target))).toEqual([]);
  });

  it('src/stream imports media and bot only (not call, signaling, sdp, http, config)', () => {
    expect(violations('stream', (target) => STREAM_USES.has(target))).toEqual([]);
  });
});
