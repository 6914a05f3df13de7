// .ci/run's closing line, from vitest's JSON report: the summary script is taken out of .ci/run and run on made-up reports.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = /^node -e '\n([\s\S]*?)\n' "\$status"$/m.exec(readFileSync('.ci/run', 'utf8'))?.[1];
const dir = mkdtempSync(join(tmpdir(), 'ci-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function summary(report: object | undefined, status = 0): string {
  rmSync(join(dir, '.test-results'), { recursive: true, force: true });
  if (report) {
    mkdirSync(join(dir, '.test-results'));
    writeFileSync(join(dir, '.test-results/results.json'), JSON.stringify(report));
  }
  return execFileSync(process.execPath, ['-e', script!, String(status)], { cwd: dir, encoding: 'utf8' }).trim();
}

const report = (counts: { passed: number; failed: number; pending: number; todo: number }) => ({
  numPassedTests: counts.passed,
  numFailedTests: counts.failed,
  numPendingTests: counts.pending,
  numTodoTests: counts.todo,
  testResults: [{ status: counts.failed ? 'failed' : 'passed', assertionResults: [{}] }],
});

describe('.ci/run summary', () => {
  it('counts passed, failed and skipped tests (skipped and todo)', () => {
    expect(script).toBeDefined();
    expect(summary(report({ passed: 410, failed: 0, pending: 7, todo: 1 }))).toBe('410 passed, 0 failed, 8 skipped');
    expect(summary(report({ passed: 3, failed: 2, pending: 0, todo: 0 }), 1)).toBe('3 passed, 2 failed, 0 skipped');
  });

  it('counts a failed run without a report, or a file that failed to load, as a failure', () => {
    expect(summary(undefined, 1)).toBe('0 passed, 1 failed, 0 skipped');
    const broken = { ...report({ passed: 5, failed: 0, pending: 0, todo: 0 }), testResults: [{ status: 'failed', assertionResults: [] }] };
    expect(summary(broken, 1)).toBe('5 passed, 1 failed, 0 skipped');
  });
});
