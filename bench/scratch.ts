// Temporary directories of the bench (configs, SIPp files, captures): removed when their step ends and, for an
// interrupted run, when the bench exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs = new Set<string>();

export function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sip-ws-bench-${name}-`));
  dirs.add(dir);
  return dir;
}

export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

process.on('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
