// The rtpengine health check: one ping per period, the status the last answer gave, and one log line per change.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpengineWatch } from '../../src/media/index.js';

const watches: RtpengineWatch[] = [];
afterEach(() => {
  for (const w of watches.splice(0)) w.close();
});

/** A logger that keeps each line's level and message. */
function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(`${JSON.parse(line).level} ${JSON.parse(line).msg}`) });
  return { log, lines };
}

describe('rtpengine watch', () => {
  it('logs an outage once at error level, its recovery at info, and keeps the time the outage began', async () => {
    const answers = [true, false, false, false, true, true, false];
    let pings = 0;
    const relay = {
      address: '127.0.0.1:22222',
      async ping() {
        const up = answers[pings++] ?? true;
        if (!up) throw new Error(`rtpengine at 127.0.0.1:22222 did not answer ping (${pings})`);
      },
    };
    const { log, lines } = capture();
    const watch = new RtpengineWatch(relay, 20, log);
    watches.push(watch);
    expect(watch.status.up).toBe(false);
    await watch.start();
    expect(watch.status).toEqual({ up: true });
    while (pings < 3) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    expect(watch.status.up).toBe(false);
    const first = !watch.status.up && watch.status.reason;
    expect(first).toMatch(/^media relay: rtpengine at 127\.0\.0\.1:22222 did not answer ping \(2\) \(since \d{4}-/);
    while (pings < 4) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    expect(!watch.status.up && watch.status.reason).toBe(first);
    while (pings < 7) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    expect(lines).toEqual([
      '30 rtpengine answers',
      '50 rtpengine is not answering: new calls are refused until it does',
      '30 rtpengine answers again',
      '50 rtpengine is not answering: new calls are refused until it does',
    ]);
  });

  it('pings no more once closed, even with a ping in flight', async () => {
    let pings = 0;
    let release: () => void = () => {};
    const relay = {
      address: '127.0.0.1:22222',
      ping: () => {
        pings++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    };
    const watch = new RtpengineWatch(relay, 10, pino({ level: 'silent' }));
    const started = watch.start();
    watch.close();
    release();
    await started;
    await new Promise((r) => setTimeout(r, 50));
    expect(pings).toBe(1);
  });
});
