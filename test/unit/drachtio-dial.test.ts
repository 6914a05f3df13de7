// DrachtioBackend.dial() at its interface with drachtio-srf (a stand-in createUAC): what goes into the INVITE, and
// the races the real server rarely shows: cancel() before the INVITE is out, a 2xx crossing the CANCEL, no connection.
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DrachtioBackend, type SrfLike } from '../../src/signaling/drachtio.js';
import type { DialFailure, DialRequest, OutgoingCall } from '../../src/signaling/index.js';

const log = pino({ level: 'silent' });

class FakeRequest {
  cancels = 0;
  cancelError: Error | undefined;
  cancel(callback: (err: unknown) => void): void {
    this.cancels++;
    callback(this.cancelError ?? null);
  }
}

class FakeDialog extends EventEmitter {
  destroyed = 0;
  readonly local = { sdp: '' };
  readonly remote = { sdp: 'v=0\r\nm=audio 4000 RTP/AVP 8 101\r\n' };
  async destroy(): Promise<void> {
    this.destroyed++;
  }
}

interface Uac {
  readonly uri: string;
  readonly opts: Srf.CreateUACOptions;
  readonly cbRequest: (err: unknown, req?: Srf.SrfRequest) => void;
  readonly cbProvisional: (res: Srf.SrfResponse) => void;
  resolve(dialog: FakeDialog): void;
  reject(err: unknown): void;
}

class FakeSrf extends EventEmitter implements SrfLike {
  readonly uacs: Uac[] = [];
  throwOnUac: Error | undefined;
  connect(): void {
    setImmediate(() => this.emit('connect', null, 'udp/127.0.0.1:5060'));
  }
  disconnect(): void {
    setImmediate(() => this.emit('close'));
  }
  unregisterForMessages(): void {}
  invite(): void {}
  options(): void {}
  refer(): void {}
  createUAS(): Promise<Srf.Dialog> {
    return Promise.reject(new Error('no inbound calls here'));
  }
  createUAC(
    uri: string,
    opts: Srf.CreateUACOptions,
    callbacks: { cbRequest?: (err: unknown, req?: Srf.SrfRequest) => void; cbProvisional?: (res: Srf.SrfResponse) => void },
  ): Promise<Srf.Dialog> {
    if (this.throwOnUac) throw this.throwOnUac;
    return new Promise<Srf.Dialog>((resolve, reject) => {
      this.uacs.push({
        uri,
        opts,
        cbRequest: callbacks.cbRequest!,
        cbProvisional: callbacks.cbProvisional!,
        resolve: (dialog) => resolve(dialog as unknown as Srf.Dialog),
        reject,
      });
    });
  }
}

async function started(): Promise<{ srf: FakeSrf; backend: DrachtioBackend }> {
  const srf = new FakeSrf();
  const backend = new DrachtioBackend({ host: '127.0.0.1', port: 9022, secret: 'cymru', allowSource: () => true, log }, srf);
  await backend.start();
  return { srf, backend };
}

const REQUEST: DialRequest = {
  uri: 'sip:+919876543210@pstn.example.com',
  proxy: 'sip:trunk.example.com:5080;transport=tcp',
  from: { user: '+918041234567', host: 'bridge.example.com' },
  headers: [
    ['X-UUI', 'ticket-991'],
    ['x-route', 'a'],
    ['X-Route', 'b'],
    ['from', '<sip:spoofed@example.com>'],
  ],
  sdp: 'v=0\r\n',
};

function outcome(call: OutgoingCall): Promise<{ answered: string } | { failed: DialFailure }> {
  return new Promise((resolve) => {
    call.once('answered', (_dialog, sdp) => resolve({ answered: sdp }));
    call.once('failed', (failed) => resolve({ failed }));
  });
}

/** A response as drachtio-srf presents one: status, reason, body, and its headers through has() and get(). */
function response(status: number, reason: string, headers: Record<string, string> = {}, body = ''): Srf.SrfResponse {
  const find = (name: string) => Object.entries(headers).find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  return { status, reason, body, has: (name: string) => find(name) !== undefined, get: find } as unknown as Srf.SrfResponse;
}

/** What createUAC rejects with on a final non-2xx response. */
const sipError = (status: number, reason: string, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`Sip non-success response: ${status}`), { status, reason, res: response(status, reason, headers) });

describe('DrachtioBackend.dial', () => {
  it('asks drachtio-srf for an INVITE to the URI through the trunk, with our From, Call-ID and the extra headers', async () => {
    const { srf, backend } = await started();
    const call = backend.dial({ ...REQUEST, credentials: { username: 'bridge', password: 's3cret' } });
    const [uac] = srf.uacs;
    expect(uac!.uri).toBe(REQUEST.uri);
    expect(uac!.opts).toEqual({
      proxy: REQUEST.proxy,
      localSdp: REQUEST.sdp,
      headers: {
        'X-UUI': 'ticket-991',
        'x-route': 'a, b',
        From: '<sip:+918041234567@bridge.example.com>',
        To: '<sip:+919876543210@pstn.example.com>',
        'call-id': call.callId,
        'Content-Type': 'application/sdp',
      },
    });
    expect(srf.uacs[0]!.opts).not.toHaveProperty('auth');
    await backend.stop();
  });

  it('reports 180 and 183 with its SDP, not 100; answers with the dialog and its SDP', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    const progress: unknown[] = [];
    call.on('progress', (...args) => progress.push(args));
    const uac = srf.uacs[0]!;
    for (const [status, reason, body] of [[100, 'Trying', ''], [180, 'Ringing', ''], [183, 'Session Progress', 'v=0\r\n']] as const) {
      uac.cbProvisional(response(status, reason, body ? { 'Content-Type': 'application/sdp' } : {}, body));
    }
    uac.cbProvisional(response(183, 'Session Progress', { 'Content-Type': 'text/plain' }, 'not sdp'));
    const result = outcome(call);
    uac.resolve(new FakeDialog());
    expect(await result).toEqual({ answered: 'v=0\r\nm=audio 4000 RTP/AVP 8 101\r\n' });
    expect(progress).toEqual([
      [180, 'Ringing', undefined],
      [183, 'Session Progress', 'v=0\r\n'],
      [183, 'Session Progress', undefined],
    ]);
    expect(backend.stats()).toEqual({ dialogs: 1, pendingInvites: 0 });
    await backend.stop();
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
  });

  it('sends the CANCEL once the INVITE is out when cancel() comes first', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    call.cancel();
    const req = new FakeRequest();
    srf.uacs[0]!.cbRequest(null, req as unknown as Srf.SrfRequest);
    expect(req.cancels).toBe(1);
    call.cancel();
    expect(req.cancels).toBe(1);
    call.on('progress', () => expect.unreachable('no progress after cancel()'));
    srf.uacs[0]!.cbProvisional(response(180, 'Ringing'));
    const result = outcome(call);
    srf.uacs[0]!.reject(sipError(487, 'Request Terminated'));
    expect(await result).toEqual({ failed: { status: 487, reason: 'Request Terminated' } });
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
    await backend.stop();
  });

  it('ends a 2xx that crossed the CANCEL with BYE and reports the call failed', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    srf.uacs[0]!.cbRequest(null, new FakeRequest() as unknown as Srf.SrfRequest);
    call.cancel();
    const result = outcome(call);
    const dialog = new FakeDialog();
    srf.uacs[0]!.resolve(dialog);
    expect(await result).toEqual({ failed: expect.objectContaining({ status: 487 }) });
    await new Promise((r) => setImmediate(r));
    expect(dialog.destroyed).toBe(1);
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
    await backend.stop();
  });

  it('fails with the final status, its reason and the Warning text', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    const result = outcome(call);
    srf.uacs[0]!.reject(sipError(603, 'Decline', { Warning: '399 sbc.example "caller barred"' }));
    expect(await result).toEqual({ failed: { status: 603, reason: 'Decline', detail: 'caller barred' } });
    await backend.stop();
  });

  it('says why a 401 or 407 ended the call: no credentials, refused ones, or a challenge it cannot answer', async () => {
    const { srf, backend } = await started();
    const credentials = { username: 'bridge', password: 's3cret' };
    const md5 = sipError(401, 'Unauthorized', { 'WWW-Authenticate': 'Digest realm="trunk", nonce="2", algorithm=MD5', From: '<sip:a@b>;tag=1', CSeq: '1 INVITE' });
    const cases = [
      [REQUEST, [sipError(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': 'Digest realm="trunk", nonce="1"' })], 'the trunk asks for authentication (407) and no credentials are configured'],
      // Answered once; the same realm's second challenge ends the call.
      [{ ...REQUEST, credentials }, [md5, md5], 'credentials for realm "trunk" were refused'],
      [{ ...REQUEST, credentials }, [sipError(401, 'Unauthorized', { 'WWW-Authenticate': 'Digest realm="trunk", nonce="3", algorithm=SHA-512', From: '<sip:a@b>;tag=1', CSeq: '1 INVITE' })], 'unsupported digest algorithm SHA-512'],
    ] as const;
    for (const [request, errors, detail] of cases) {
      const result = outcome(backend.dial(request));
      for (const error of errors) {
        srf.uacs.at(-1)!.reject(error);
        await new Promise((r) => setImmediate(r));
      }
      expect(await result).toEqual({ failed: { status: errors[0]!.status, reason: errors[0]!.reason, detail } });
    }
    await backend.stop();
  });

  it('answers a challenge itself (SHA-256 too): the same INVITE again with its From tag, CSeq+1 and the credentials', async () => {
    const { srf, backend } = await started();
    const call = backend.dial({ ...REQUEST, credentials: { username: 'bridge', password: 's3cret' } });
    const result = outcome(call);
    const from = '<sip:+918041234567@bridge.example.com>;tag=abc';
    srf.uacs[0]!.reject(sipError(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': 'Digest realm="trunk", nonce="n1", qop="auth", algorithm=SHA-256', From: from, CSeq: '7 INVITE' }));
    await new Promise((r) => setImmediate(r));
    expect(srf.uacs).toHaveLength(2);
    const retry = srf.uacs[1]!;
    expect(retry.uri).toBe(REQUEST.uri);
    expect(retry.opts.headers).toMatchObject({ From: from, CSeq: '8 INVITE', 'call-id': call.callId, 'X-UUI': 'ticket-991' });
    const auth = retry.opts.headers!['Proxy-Authorization']!;
    expect(auth).toMatch(/^Digest username="bridge", realm="trunk", nonce="n1", uri="sip:\+919876543210@pstn\.example\.com", response="[0-9a-f]{64}", algorithm=SHA-256, cnonce="[^"]+", qop=auth, nc=00000001$/);
    const req = new FakeRequest();
    retry.cbRequest(null, req as unknown as Srf.SrfRequest);
    retry.resolve(new FakeDialog());
    expect(await result).toEqual({ answered: expect.any(String) });
    await backend.stop();
  });

  it('cancels the retried INVITE when cancel() comes between the challenge and the retry; no retry after a cancel', async () => {
    const { srf, backend } = await started();
    const credentials = { username: 'bridge', password: 's3cret' };
    const challenge = () => sipError(401, 'Unauthorized', { 'WWW-Authenticate': 'Digest realm="trunk", nonce="n"', From: '<sip:a@b>;tag=1', CSeq: '1 INVITE' });
    const call = backend.dial({ ...REQUEST, credentials });
    const first = new FakeRequest();
    srf.uacs[0]!.cbRequest(null, first as unknown as Srf.SrfRequest);
    srf.uacs[0]!.reject(challenge());
    await new Promise((r) => setImmediate(r));
    call.cancel();
    expect(first.cancels).toBe(0);
    const retried = new FakeRequest();
    srf.uacs[1]!.cbRequest(null, retried as unknown as Srf.SrfRequest);
    expect(retried.cancels).toBe(1);

    const late = backend.dial({ ...REQUEST, credentials });
    const result = outcome(late);
    late.cancel();
    srf.uacs[2]!.reject(challenge());
    expect(await result).toEqual({ failed: expect.objectContaining({ status: 401 }) });
    expect(srf.uacs).toHaveLength(3);
    await backend.stop();
  });

  it('fails with 503 and the reason when drachtio-srf cannot send the INVITE or the CANCEL', async () => {
    const { srf, backend } = await started();
    const lost = backend.dial(REQUEST);
    const lostResult = outcome(lost);
    srf.uacs[0]!.reject(new Error('provided socket has been destroyed'));
    expect(await lostResult).toEqual({ failed: { status: 503, reason: 'Service Unavailable', detail: 'provided socket has been destroyed' } });

    srf.throwOnUac = new Error('no connection to drachtio-server');
    const refused = backend.dial(REQUEST);
    expect(await outcome(refused)).toEqual({ failed: { status: 503, reason: 'Service Unavailable', detail: 'no connection to drachtio-server' } });
    srf.throwOnUac = undefined;

    const stuck = backend.dial(REQUEST);
    const req = new FakeRequest();
    req.cancelError = new Error('unable to find transaction');
    srf.uacs[1]!.cbRequest(null, req as unknown as Srf.SrfRequest);
    const stuckResult = outcome(stuck);
    stuck.cancel();
    expect(await stuckResult).toEqual({ failed: { status: 503, reason: 'Service Unavailable', detail: 'CANCEL not sent: unable to find transaction' } });
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
    await backend.stop();
  });

  it('gives up the INVITEs on their way when it stops', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    const req = new FakeRequest();
    srf.uacs[0]!.cbRequest(null, req as unknown as Srf.SrfRequest);
    const result = outcome(call);
    await backend.stop();
    expect(await result).toEqual({ failed: { status: 503, reason: 'Service Unavailable', detail: 'sip backend stopped' } });
    expect(req.cancels).toBe(1);
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
  });

  it('still cancels an INVITE it gave up on before it was out, and ends one answered after', async () => {
    const { srf, backend } = await started();
    const call = backend.dial(REQUEST);
    const result = outcome(call);
    await backend.stop();
    expect(await result).toEqual({ failed: expect.objectContaining({ status: 503 }) });
    const req = new FakeRequest();
    srf.uacs[0]!.cbRequest(null, req as unknown as Srf.SrfRequest);
    expect(req.cancels).toBe(1);
    const dialog = new FakeDialog();
    srf.uacs[0]!.resolve(dialog);
    await new Promise((r) => setImmediate(r));
    expect(dialog.destroyed).toBe(1);
    expect(backend.stats()).toEqual({ dialogs: 0, pendingInvites: 0 });
  });
});
