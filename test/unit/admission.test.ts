// Admission: the pure check of an INVITE (SDP, headers, routing), and the manager's overload guard reading the media
// hosts' load: a call is refused only when no host that is up has room.
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BotAddressPolicy } from '../../src/bot/index.js';
import { admitInvite } from '../../src/call/admission.js';
import { CallManager } from '../../src/call/index.js';
import type { IncomingCall, SipBackend } from '../../src/signaling/index.js';
import type { HostLoad, MediaHost } from '../../src/stream/index.js';
import { sdpOffer } from '../helpers/sip-messages.js';

const routing = { routes: [], defaultUrl: new URL('ws://bot.example.com/stream'), defaultSampleRate: 8000 as const };
const headerLimits = { customHeaderBytes: 200, uuiHeader: 'X-UUI', uuiBytes: 45 };

describe('admitInvite', () => {
  const check = (sdp: string | undefined, headers: Array<[string, string]> = [], options = {}) =>
    admitInvite({ sdp, headers }, { relayed: false, headerLimits, routing, ...options });

  it('routes an answerable offer to the bot, with the negotiated audio', () => {
    const admitted = check(sdpOffer());
    expect(admitted).toMatchObject({ route: { ok: true, url: routing.defaultUrl }, audio: { codec: 'PCMA', payloadType: 8 } });
  });

  it('refuses what cannot be set up, with the status and reason the carrier gets', () => {
    expect(check(undefined)).toEqual({ status: 488, phrase: 'Not Acceptable Here', warnCode: 399, reason: 'INVITE without an SDP offer is not supported' });
    expect(check(sdpOffer({ formats: [{ pt: 18, rtpmap: 'G729/8000' }] }))).toMatchObject({ status: 488, phrase: 'Not Acceptable Here' });
    expect(check(sdpOffer(), [['X-UUI', 'x'.repeat(46)]])).toMatchObject({ status: 400, phrase: 'Bad Request' });
    expect(check(sdpOffer(), [], { routing: { routes: [], defaultSampleRate: 8000 } })).toMatchObject({ status: 404, phrase: 'Not Found' });
  });
});

/** An INVITE without SDP: admitted, the call itself rejects it with 488; refused, the manager answers 503. */
function invite(): IncomingCall & { rejected: Array<{ status: number; warning: string | undefined }> } {
  const rejected: Array<{ status: number; warning: string | undefined }> = [];
  return Object.assign(new EventEmitter(), {
    rejected,
    callId: `c-${Math.random()}`,
    from: { uri: 'sip:a@example.com', user: 'a', tag: 't' },
    to: { uri: 'sip:b@example.com', user: 'b' },
    requestUri: 'sip:b@example.com',
    protocol: 'udp',
    source: { address: '192.0.2.1', port: 5060 },
    headers: [],
    sdp: undefined,
    cancelled: false,
    answer: () => {
      throw new Error('not answered here');
    },
    reject: (status: number, _phrase: string, details?: { warning?: { text: string } }) => rejected.push({ status, warning: details?.warning?.text }),
  }) as unknown as IncomingCall & { rejected: Array<{ status: number; warning: string | undefined }> };
}

function load(name: string, clockLagMs: number, busy: number, up = true, legs = 0): HostLoad {
  return { name, legs, clockLagMs, busy, rtpPortsInUse: 0, packets: { in: 0, out: 0, lost: 0 }, queuedMs: 0, maxQueuedMs: 0, heapUsedBytes: 0, up };
}

function manager(loads: () => HostLoad[]) {
  const backend = new EventEmitter() as unknown as SipBackend;
  const host: MediaHost = { open: () => Promise.reject(new Error('not opened here')), load: loads, close: () => Promise.resolve() };
  new CallManager(
    backend,
    {
      log: pino({ level: 'silent' }),
      routing,
      media: { host, advertisedAddress: '127.0.0.1' },
      bot: { connectRetries: 0, addressPolicy: new BotAddressPolicy(() => false) },
      headerLimits,
      maxDurationMs: 60_000,
    },
    { maxConcurrentCalls: 10, invitesPerSecondPerSource: 100, maxClockLagMs: 40, maxEventLoopUtilization: 0.9 },
  );
  return (inv = invite()) => {
    (backend as unknown as EventEmitter).emit('invite', inv);
    return inv.rejected[0];
  };
}

describe("the overload guard reads the media hosts' load", () => {
  it('admits while one host that is up has room, whatever the others', () => {
    const offer = manager(() => [load('worker-1', 80, 0.95), load('worker-2', 5, 0.3), load('worker-3', 0, 0, false)]);
    expect(offer()).toEqual({ status: 488, warning: 'INVITE without an SDP offer is not supported' });
  });

  it('admits when the host with the fewest legs is overloaded but another has room (where the call is then placed)', () => {
    const offer = manager(() => [load('worker-1', 80, 0.2, true, 0), load('worker-2', 5, 0.3, true, 7)]);
    expect(offer()).toEqual({ status: 488, warning: 'INVITE without an SDP offer is not supported' });
  });

  it("refuses when every host is over a limit, with the figures of the host a call would go to (fewest legs, least busy)", () => {
    expect(manager(() => [load('worker-1', 80, 0.2), load('worker-2', 60, 0.1)])()).toEqual({ status: 503, warning: 'overloaded: the media clock ran 60 ms late, the limit is 40' });
    expect(manager(() => [load('worker-1', 60, 0.1, true, 2), load('worker-2', 80, 0.2, true, 1)])()).toEqual({ status: 503, warning: 'overloaded: the media clock ran 80 ms late, the limit is 40' });
    expect(manager(() => [load('worker-1', 10, 0.97), load('worker-2', 10, 0.95)])()).toEqual({
      status: 503,
      warning: 'overloaded: the event loop was busy 95.0 % of the last second, the limit is 90 %',
    });
  });

  it('refuses when no host is up', () => {
    expect(manager(() => [load('worker-1', 0, 0, false)])()).toEqual({ status: 503, warning: 'no media host is up' });
  });
});
