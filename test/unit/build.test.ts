// npm start, example-bot and call build dist/ only when a source changed, not on every run: tsc -b with an
// incremental build info kept in dist/, which the type-check and the bench keep apart from theirs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
const tsc = (...args: string[]) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { encoding: 'utf8' });

function buildInfo(project: string): string | undefined {
  const options = (JSON.parse(readFileSync(project, 'utf8')) as { compilerOptions: { tsBuildInfoFile?: string } }).compilerOptions;
  return options.tsBuildInfoFile && resolve(dirname(project), options.tsBuildInfoFile);
}

describe('the build', () => {
  it('is made by npm install (prepare) and checked, not redone, by the scripts that run dist/', () => {
    expect(pkg.scripts.prepare).toBe('tsc -b tsconfig.json');
    expect(pkg.scripts.build).toBe('tsc -b tsconfig.json');
    for (const script of ['start', 'example-bot', 'call', 'bench']) expect(pkg.scripts[script], script).toMatch(/^tsc -b tsconfig\.json && /);
  });

  it('finds dist/ up to date when no source changed', () => {
    tsc('-b', 'tsconfig.json');
    expect(tsc('-b', 'tsconfig.json', '--verbose')).toMatch(/Project 'tsconfig\.json' is up to date/);
  });

  it('keeps its build info in dist/, apart from the type-check of the tests and the bench build', () => {
    const infos = ['tsconfig.json', 'test/tsconfig.json', 'bench/tsconfig.json'].map(buildInfo);
    expect(infos[0]).toBe(resolve('dist/.tsbuildinfo'));
    expect(new Set(infos).size).toBe(3);
  });
});
