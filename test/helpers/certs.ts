// Certificates made with openssl for the TLS tests, in a temporary directory of their own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

export class CertDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'bridge-certs-'));

  path(file: string): string {
    return join(this.dir, file);
  }

  /** A self-signed certificate for CN=`name` (usable as a CA): NAME.pem and NAME.key. */
  selfSigned(name: string): CertFiles {
    const files = { cert: this.path(`${name}.pem`), key: this.path(`${name}.key`) };
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', files.key, '-out', files.cert);
    return files;
  }

  /** A certificate for CN=`name` signed by the CA `ca` made with selfSigned(). */
  signed(name: string, ca: string): CertFiles {
    const files = { cert: this.path(`${name}.pem`), key: this.path(`${name}.key`) };
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', files.key, '-out', this.path(`${name}.csr`));
    openssl('x509', '-req', '-in', this.path(`${name}.csr`), '-CA', this.path(`${ca}.pem`), '-CAkey', this.path(`${ca}.key`), '-CAcreateserial', '-days', '1', '-out', files.cert);
    return files;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
