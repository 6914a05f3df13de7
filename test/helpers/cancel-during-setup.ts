// A caller that gives up while the bridge is still opening the bot's WebSocket: SIPp CANCELs 300 ms into an INVITE
// to a bridge whose bot takes 1.5 s to finish its handshake.
import { expect } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import type { BridgeConfigInput } from '../../src/config/index.js';
import { TestBot } from './bot.js';
import { startTestBridge, waitForIdle } from './bridge.js';
import { expectSippPassed } from './carrier.js';
import { sdpOffer } from './sip-messages.js';
import { callScenario, runSipp, type SippResult } from './sipp.js';

/**
 * Runs the cancelled call against a bridge with `config` (its bot the slow one); `check` sees SIPp's result and the
 * bridge once the call is gone. Afterwards the bot must have had no stream: its socket dropped, or no message on it
 * even after its handshake would have finished.
 */
export async function cancelWhileBotConnects(config: BridgeConfigInput, check: (result: SippResult, bridge: Bridge) => Promise<void> | void): Promise<void> {
  const slowBot = await TestBot.start({ handshakeDelayMs: 1500 });
  const slowBridge = await startTestBridge({ ...config, bot: { ...config.bot, defaultUrl: slowBot.url } });
  try {
    const result = await runSipp({
      scenario: { xml: callScenario({ sdp: sdpOffer(), flow: { kind: 'cancel', afterMs: 300 } }) },
      transport: 'u1',
      target: { host: '127.0.0.1', port: slowBridge.sip.udp!.port },
    });
    expectSippPassed(result);
    await waitForIdle(slowBridge);
    await check(result, slowBridge);
    await new Promise((r) => setTimeout(r, 1700));
    expect(slowBot.connections.every((c) => c.closed || c.messages.length === 0)).toBe(true);
  } finally {
    await slowBridge.stop();
    await slowBot.close();
  }
}
