// Starts the bridge in-process on free loopback ports for end-to-end tests.
import { pino, type Logger } from 'pino';
import { startBridge, type Bridge } from '../../src/bridge.js';
import { parseConfig, type BridgeConfigInput } from '../../src/config/index.js';

/** Test logs go to stderr only when BRIDGE_TEST_LOG is set (e.g. BRIDGE_TEST_LOG=debug). */
export function testLogger(): Logger {
  const level = process.env.BRIDGE_TEST_LOG;
  return level ? pino({ level }, pino.destination(2)) : pino({ level: 'silent' });
}

export async function startTestBridge(overrides: BridgeConfigInput = {}): Promise<Bridge> {
  const config = parseConfig(
    {
      ...overrides,
      sip: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, timers: { t1: 100, t2: 400, t4: 500 }, ...overrides.sip },
      http: { host: '127.0.0.1', port: 0, ...overrides.http },
      // Calls' media in this thread unless a test asks for workers; BRIDGE_TEST_WORKERS=N runs every test's in N.
      media: { address: '127.0.0.1', rtpPorts: { min: 20000, max: 29999 }, workers: Number(process.env.BRIDGE_TEST_WORKERS ?? 0), ...overrides.media },
      bot: { connectTimeoutMs: 2000, ...overrides.bot },
      // The level of the media workers' own log lines (fd 1); this thread's go to testLogger().
      log: { level: (process.env.BRIDGE_TEST_LOG as 'debug' | undefined) ?? 'silent', ...overrides.log },
      // Test files run in parallel on small machines, whose event loops stall past the overload limit for reasons of
      // their own; refusing calls for it is tested where it is the subject (faults.test.ts).
      limits: { maxClockLagMs: 0, maxEventLoopUtilization: 1, ...overrides.limits },
    },
    'test overrides',
  );
  return startBridge(config, testLogger());
}

/** Polls until the bridge holds no call, RTP port, clock listener, dialog or transaction. */
export async function waitForIdle(bridge: Bridge, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = bridge.stats();
    const busy = s.activeCalls + s.rtpPortsInUse + s.clockListeners + s.sip.dialogs + s.sip.pendingInvites;
    if (busy === 0) return;
    if (Date.now() > deadline) throw new Error(`bridge not idle: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
