// Digest authentication on outbound calls through drachtio-server: the bridge answers the trunk's 401 and 407
// challenges (MD5, SHA-256, qop=auth) with the credentials given to dial() (src/signaling/digest.ts) and sends the
// INVITE again through drachtio-srf with the same Call-ID and From tag and CSeq+1.
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrachtioBackend } from '../../src/signaling/drachtio.js';
import { drachtioBinary, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { answered, expectPassed, header, lines, request, trunk as sippTrunk, watch } from '../helpers/drachtio-trunk.js';

const binary = drachtioBinary();
const skip = 'missing' in binary ? `skipping drachtio-server digest tests: ${binary.missing}` : undefined;
if (skip) console.warn(skip);

const log = pino({ level: 'silent' });
let server: DrachtioServer;
let backend: DrachtioBackend;

beforeAll(async () => {
  if (skip) return;
  server = await startDrachtioServer();
  backend = new DrachtioBackend({ host: server.host, port: server.adminPort, secret: server.secret, allowSource: () => true, log });
  await backend.start();
  if (!backend.status.up) throw new Error(backend.status.reason);
});

afterAll(async () => {
  await backend?.stop();
  await server?.stop();
});

const trunk = (scenario: string) => sippTrunk(scenario, server.sip);

describe.skipIf(skip)('digest authentication through drachtio-server', () => {
  it('answers a 401 challenge with MD5 digest credentials, which the trunk verifies', async () => {
    const sipp = await trunk('drachtio-trunk-auth.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [first, second] = lines(result, /^INVITE /);
    expect(header(first!, 'Authorization')).toBeUndefined();
    expect(header(second!, 'Authorization')).toMatch(/^Digest .*username="bridge"/);
    expect(header(second!, 'Call-ID')).toBe(call.callId);
    expect(header(second!, 'From')).toBe(header(first!, 'From'));
    expect(Number(header(second!, 'CSeq')!.split(' ')[0])).toBe(Number(header(first!, 'CSeq')!.split(' ')[0]) + 1);
    expect(header(second!, 'X-UUI')).toBe('ticket-991');
    expect(lines(result, /^ACK /)).toHaveLength(2);
  });

  it('answers a 407 challenge with qop=auth: the digest checks out (RFC 2617 3.2.2)', async () => {
    const sipp = await trunk('drachtio-trunk-auth-407.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [challenge] = lines(result, /^SIP\/2\.0 407 /);
    const nonce = /nonce="([^"]+)"/.exec(header(challenge!, 'Proxy-Authenticate')!)![1]!;
    const [, second] = lines(result, /^INVITE /);
    const auth = header(second!, 'Proxy-Authorization')!;
    const param = (name: string) => new RegExp(`\\b${name}="?([^",]+)"?`).exec(auth)?.[1];
    expect({ username: param('username'), realm: param('realm'), nonce: param('nonce'), uri: param('uri'), qop: param('qop'), opaque: param('opaque'), algorithm: param('algorithm') }).toEqual({
      username: 'bridge',
      realm: 'trunk.example',
      nonce,
      uri: 'sip:+919876543210@pstn.example.com',
      qop: 'auth',
      opaque: 'trunk-opaque',
      algorithm: 'MD5',
    });
    expect(param('nc')).toBe('00000001');
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const ha1 = md5('bridge:trunk.example:s3cret');
    const ha2 = md5('INVITE:sip:+919876543210@pstn.example.com');
    expect(param('response')).toBe(md5(`${ha1}:${nonce}:${param('nc')}:${param('cnonce')}:auth:${ha2}`));
  });

  it('answers a SHA-256 challenge (RFC 7616): the digest checks out, the trunk answers', async () => {
    const sipp = await trunk('drachtio-trunk-auth-sha256.xml');
    const call = backend.dial(request(sipp.port, { credentials: { username: 'bridge', password: 's3cret' } }));
    const { dialog } = await answered(watch(call).outcome);
    await dialog.bye();
    const result = await sipp.done;
    expectPassed(result);
    const [challenge] = lines(result, /^SIP\/2\.0 401 /);
    const nonce = /nonce="([^"]+)"/.exec(header(challenge!, 'WWW-Authenticate')!)![1]!;
    const [first, second] = lines(result, /^INVITE /);
    expect(header(second!, 'Call-ID')).toBe(call.callId);
    expect(header(second!, 'From')).toBe(header(first!, 'From'));
    expect(Number(header(second!, 'CSeq')!.split(' ')[0])).toBe(Number(header(first!, 'CSeq')!.split(' ')[0]) + 1);
    const auth = header(second!, 'Authorization')!;
    const param = (name: string) => new RegExp(`\\b${name}="?([^",]+)"?`).exec(auth)?.[1];
    expect({ username: param('username'), realm: param('realm'), nonce: param('nonce'), uri: param('uri'), qop: param('qop'), algorithm: param('algorithm'), nc: param('nc') }).toEqual({
      username: 'bridge',
      realm: 'trunk.example',
      nonce,
      uri: 'sip:+919876543210@pstn.example.com',
      qop: 'auth',
      algorithm: 'SHA-256',
      nc: '00000001',
    });
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const ha1 = sha256('bridge:trunk.example:s3cret');
    const ha2 = sha256('INVITE:sip:+919876543210@pstn.example.com');
    expect(param('response')).toBe(sha256(`${ha1}:${nonce}:00000001:${param('cnonce')}:auth:${ha2}`));
    expect(lines(result, /^ACK /)).toHaveLength(2);
  });
});
