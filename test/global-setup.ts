// Installs what the end-to-end tests drive (SIPp; openssl for the TLS test's certificate) when missing, as root.
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
  const missing: string[] = [];
  if (!has('sipp')) missing.push('sip-tester');
  if (!has('openssl')) missing.push('openssl');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`tests need ${missing.join(', ')}; install with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  aptInstall(missing);
}
