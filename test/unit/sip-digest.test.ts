// Digest authentication against the published examples of RFC 7616 3.9.1 and RFC 2617 3.5.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorization, parseChallenge, type DigestChallenge } from '../../src/signaling/digest.js';

const RFC7616_CHALLENGE = (algorithm: string) =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
  'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';

function challengeOf(value: string): DigestChallenge {
  const parsed = parseChallenge(value);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

function field(header: string, name: string): string | undefined {
  return new RegExp(`(?:^Digest |, )${name}=("([^"]*)"|[^,]*)`).exec(header)?.[2] ?? new RegExp(`(?:^Digest |, )${name}=([^,]*)`).exec(header)?.[1];
}

describe('digest authentication', () => {
  const rfc7616 = { method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle of Life', nonceCount: 1, cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };

  it('answers RFC 7616 3.9.1 with MD5', () => {
    const challenge = challengeOf(RFC7616_CHALLENGE('MD5'));
    expect(challenge).toMatchObject({ realm: 'http-auth@example.org', algorithm: 'MD5', qop: ['auth', 'auth-int'], stale: false });
    const header = authorization({ challenge, ...rfc7616 });
    expect(field(header, 'response')).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(field(header, 'nc')).toBe('00000001');
    expect(field(header, 'qop')).toBe('auth');
    expect(field(header, 'opaque')).toBe('FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS');
    expect(field(header, 'cnonce')).toBe(rfc7616.cnonce);
    expect(field(header, 'uri')).toBe('/dir/index.html');
  });

  it('answers RFC 7616 3.9.1 with SHA-256', () => {
    const header = authorization({ challenge: challengeOf(RFC7616_CHALLENGE('SHA-256')), ...rfc7616 });
    expect(field(header, 'response')).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(field(header, 'algorithm')).toBe('SHA-256');
  });

  it('answers the RFC 2617 3.5 example (MD5, qop=auth, nc counting)', () => {
    const challenge = challengeOf(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const base = { challenge, method: 'GET', uri: '/dir/index.html', username: 'Mufasa', password: 'Circle Of Life', cnonce: '0a4f113b' };
    expect(field(authorization({ ...base, nonceCount: 1 }), 'response')).toBe('6629fae49393a05397450978507c4ef1');
    expect(field(authorization({ ...base, nonceCount: 26 }), 'nc')).toBe('0000001a');
  });

  it('answers a challenge without qop the RFC 2069 way, without cnonce or nc', () => {
    const challenge = challengeOf('Digest realm="sip.example.com", nonce="abc", stale=TRUE');
    expect(challenge.stale).toBe(true);
    expect(challenge.algorithm).toBe('MD5');
    const header = authorization({ challenge, method: 'INVITE', uri: 'sip:bob@example.com', username: 'alice', password: 'secret', nonceCount: 1 });
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    expect(field(header, 'response')).toBe(md5(`${md5('alice:sip.example.com:secret')}:abc:${md5('INVITE:sip:bob@example.com')}`));
    expect(header).not.toContain('cnonce');
    expect(header).not.toContain('nc=');
  });

  it('refuses what it cannot answer', () => {
    expect(parseChallenge('Basic realm="x"')).toMatch(/not a Digest/);
    expect(parseChallenge('Digest nonce="x"')).toMatch(/realm/);
    expect(parseChallenge('Digest realm="x", nonce="y", algorithm=SHA-512-256')).toMatch(/unsupported digest algorithm/);
    expect(parseChallenge('Digest realm="x", nonce="y", qop="auth-int"')).toMatch(/unsupported qop/);
  });
});
