// Installs what the end-to-end tests drive when missing, as root: SIPp (the carrier), rtpengine (the media relay),
// openssl (the TLS test's certificate), drachtio-server (from ../shared/vendor); builds dist/ for the tests that run
// the bridge as its own process.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/** The drachtio-server binary for test/helpers/drachtio-server.ts, or why there is none. */
export type DrachtioBinary = { readonly bin: string } | { readonly missing: string };

declare module 'vitest' {
  export interface ProvidedContext {
    drachtio: DrachtioBinary;
  }
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
}

function runs(bin: string): boolean {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** drachtio-server is in no package registry: ../shared/vendor/drachtio-server/install.sh puts it in a cache (root). */
function drachtioServer(root: boolean): DrachtioBinary {
  const bin = process.env.DRACHTIO_BIN ?? join(homedir(), '.cache', 'drachtio-server', 'drachtio');
  const script = fileURLToPath(new URL('../../shared/vendor/drachtio-server/install.sh', import.meta.url));
  if (root && existsSync(script)) {
    execFileSync('bash', [script, bin], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (runs(bin)) return { bin };
  return {
    missing: root
      ? `no drachtio-server at ${bin} and no ${script} to install it`
      : `no drachtio-server at ${bin}: run ${script} as root (or set DRACHTIO_BIN)`,
  };
}

export default function setup(project: TestProject): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.json'], { stdio: 'inherit' });
  const root = process.getuid?.() === 0;
  const missing: string[] = [];
  if (!has('sipp')) missing.push('sip-tester');
  if (!has('openssl')) missing.push('openssl');
  // The rtpengine tests run only as root (the daemon needs it) and are skipped otherwise.
  if (!has('rtpengine') && root) missing.push('rtpengine-daemon');
  // deployment.test.ts checks the compose files with `docker-compose config` (no Docker engine needed).
  if (!has('docker-compose') && root) missing.push('docker-compose');
  if (missing.length > 0) {
    if (!root) throw new Error(`tests need ${missing.join(', ')}; install with: sudo apt-get install -y ${missing.join(' ')}`);
    aptInstall(missing);
  }
  project.provide('drachtio', drachtioServer(root));
}
