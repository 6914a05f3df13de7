// The REFER state machine alone (RFC 3515): the REFER's answer, sipfrag NOTIFYs, the subscription's end, the timeout.
import { describe, expect, it } from 'vitest';
import { parseSipfrag, ReferSubscription, type ReferOutcome } from '../../src/signaling/refer.js';

function refer(timeoutMs = 1000): { sub: ReferSubscription; events: string[]; done: Promise<ReferOutcome> } {
  const events: string[] = [];
  const sub = new ReferSubscription(7, timeoutMs, () => events.push('forgotten'));
  sub.on('accepted', (status) => events.push(`accepted ${status}`));
  sub.on('progress', (status) => events.push(`progress ${status}`));
  return { sub, events, done: sub.result };
}

describe('sipfrag', () => {
  it('reads the status line, with or without a reason phrase, and nothing else', () => {
    expect(parseSipfrag('SIP/2.0 180 Ringing\r\n')).toEqual({ status: 180, reason: 'Ringing' });
    expect(parseSipfrag('SIP/2.0 200\r\nContact: <sip:x@y>\r\n')).toEqual({ status: 200, reason: '' });
    expect(parseSipfrag('sip/2.0 486 Busy Here')).toEqual({ status: 486, reason: 'Busy Here' });
    expect(parseSipfrag('INVITE sip:x@y SIP/2.0\r\n')).toBeUndefined();
    expect(parseSipfrag('')).toBeUndefined();
  });
});

describe('REFER subscription', () => {
  it('202, 100 then 200: accepted, progress, done ok', async () => {
    const { sub, events, done } = refer();
    sub.answered(202, 'Accepted');
    sub.notified({ body: 'SIP/2.0 100 Trying\r\n', subscriptionState: 'active;expires=60' });
    sub.notified({ body: 'SIP/2.0 200 OK\r\n', subscriptionState: 'terminated;reason=noresource' });
    expect(await done).toEqual({ ok: true, sipStatus: 200, reason: 'OK' });
    expect(events).toEqual(['accepted 202', 'progress 100', 'forgotten']);
    sub.notified({ body: 'SIP/2.0 486 Busy Here\r\n', subscriptionState: 'terminated' });
    expect(sub.settled).toBe(true);
  });

  it('a REFER answered 405 fails at the REFER step', async () => {
    const { sub, done } = refer();
    sub.answered(405, 'Method Not Allowed');
    expect(await done).toMatchObject({ ok: false, sipStatus: 405, stage: 'refer' });
  });

  it('a 486 sipfrag fails at the NOTIFY step; a NOTIFY may come before the 202', async () => {
    const { sub, done } = refer();
    sub.notified({ body: 'SIP/2.0 486 Busy Here\r\n', subscriptionState: 'terminated' });
    sub.answered(202, 'Accepted');
    expect(await done).toMatchObject({ ok: false, sipStatus: 486, stage: 'notify' });
  });

  it('Subscription-State terminated without a final sipfrag fails', async () => {
    const { sub, done } = refer();
    sub.answered(202, 'Accepted');
    sub.notified({ body: 'SIP/2.0 180 Ringing\r\n', subscriptionState: 'terminated;reason=timeout' });
    const outcome = await done;
    expect(outcome).toMatchObject({ ok: false, stage: 'notify' });
    expect(outcome.reason).toMatch(/timeout/);
  });

  it('no final NOTIFY in time fails with 408', async () => {
    const { sub, done } = refer(100);
    sub.answered(202, 'Accepted');
    sub.notified({ body: 'SIP/2.0 100 Trying\r\n', subscriptionState: 'active' });
    expect(await done).toMatchObject({ ok: false, sipStatus: 408, stage: 'timeout' });
  });
});
