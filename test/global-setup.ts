// Installs what the end-to-end tests drive when missing, as root: SIPp (the carrier), rtpengine (the media relay),
// openssl (the TLS test's certificate); builds dist/ for the tests that run the bridge as its own process.
import { execFileSync } from 'node:child_process';

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

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.json'], { stdio: 'inherit' });
  const root = process.getuid?.() === 0;
  const missing: string[] = [];
  if (!has('sipp')) missing.push('sip-tester');
  if (!has('openssl')) missing.push('openssl');
  // The rtpengine tests run only as root (the daemon needs it) and are skipped otherwise.
  if (!has('rtpengine') && root) missing.push('rtpengine-daemon');
  if (missing.length === 0) return;
  if (!root) {
    throw new Error(`tests need ${missing.join(', ')}; install with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  aptInstall(missing);
}
