import { describe, expect, it } from 'vitest';
import { accountSid, routeCall, type RoutingOptions } from '../../src/bot/index.js';

const options: RoutingOptions = {
  routes: [
    { header: 'X-Customer-Header', equals: 'salesbot', url: new URL('ws://sales.example.com/media'), sampleRate: 16000 },
    { header: 'X-Campaign', matches: /^diwali-\d+$/, url: new URL('wss://campaigns.example.com/stream?campaign=diwali&sample-rate=24000') },
    { header: 'X-Customer-Header', matches: /.*/, url: new URL('ws://catchall.example.com/') },
  ],
  defaultUrl: new URL('ws://default.example.com/media'),
  urlHeader: { name: 'X-Bot-Url', allowedHosts: ['bots.example.com', '*.voice.example.net'] },
  defaultSampleRate: 8000,
};

const ok = (headers: Array<[string, string]>, opts = options) => {
  const decision = routeCall(headers, opts);
  if (!decision.ok) throw new Error(`expected a route, got ${decision.status} ${decision.reason}`);
  return decision;
};

describe('routing', () => {
  it('takes the first matching route, exact value before later patterns, header names case-insensitive', () => {
    const d = ok([['x-customer-header', 'salesbot']]);
    expect(d.url.origin + d.url.pathname).toBe('ws://sales.example.com/media');
    expect(d.sampleRate).toBe(16000);
    expect(d.via).toBe('route 1 (X-Customer-Header)');
    expect(ok([['X-Customer-Header', 'supportbot']]).url.host).toBe('catchall.example.com');
  });

  it('matches regex routes and lets the URL query choose the sample rate', () => {
    const d = ok([['X-Campaign', 'diwali-2026']]);
    expect(d.url.host).toBe('campaigns.example.com');
    expect(d.sampleRate).toBe(24000);
    expect(d.url.searchParams.get('sample-rate')).toBe('24000');
    expect(d.customParameters).toEqual({ campaign: 'diwali', Campaign: 'diwali-2026' });
    expect(ok([['X-Campaign', 'diwali-x']]).url.host).toBe('default.example.com');
  });

  it('falls back to the default URL at the default rate, with custom parameters in the query', () => {
    const d = ok([
      ['X-UUI', 'abc123'],
      ['X-Exotel-CallSid', 'sid'],
      ['X-Veeno-Trace', 't'],
      ['From', '<sip:a@b>'],
    ]);
    expect(d.url.host).toBe('default.example.com');
    expect(d.sampleRate).toBe(8000);
    expect(d.customParameters).toEqual({ UUI: 'abc123' });
    expect(d.url.search).toBe('?sample-rate=8000&UUI=abc123');
  });

  it("takes X-Account-Sid (StreamKit's) as the account when X-Exotel-AccountSid is absent, never as a custom parameter", () => {
    expect(accountSid([['X-Account-Sid', ' pbx-1 ']])).toBe('pbx-1');
    expect(accountSid([['x-account-sid', 'pbx-1'], ['X-Exotel-AccountSid', 'exo-1']])).toBe('exo-1');
    expect(accountSid([['X-Exotel-AccountSid', ''], ['X-Account-Sid', 'pbx-1']])).toBe('pbx-1');
    expect(accountSid([['X-UUI', 'u']])).toBeUndefined();
    expect(ok([['X-Account-Sid', 'pbx-1'], ['X-UUI', 'u']]).customParameters).toEqual({ UUI: 'u' });
  });

  it('answers 404 with a reason when nothing matches and there is no default', () => {
    const decision = routeCall([['X-Customer-Header', 'nobody']], { routes: [], defaultSampleRate: 8000 });
    expect(decision).toEqual({ ok: false, status: 404, reason: 'no route matches the call and no default bot URL is configured' });
  });

  it('accepts a whole URL from the configured header only for allowed hosts', () => {
    const d = ok([['X-Bot-Url', 'wss://bots.example.com/agent?x=1']]);
    expect(d.url.href).toBe('wss://bots.example.com/agent?x=1&sample-rate=8000');
    expect(d.customParameters).toEqual({ x: '1' });
    expect(ok([['X-Bot-Url', 'ws://eu.voice.example.net/a']]).url.host).toBe('eu.voice.example.net');
    expect(routeCall([['X-Bot-Url', 'ws://evil.example.org/']], options)).toMatchObject({ ok: false, status: 403, reason: 'bot host evil.example.org from X-Bot-Url is not allowed' });
    expect(routeCall([['X-Bot-Url', 'ws://voice.example.net/']], options)).toMatchObject({ ok: false, status: 403 });
    expect(routeCall([['X-Bot-Url', 'http://bots.example.com/']], options)).toMatchObject({ ok: false, status: 403, reason: 'X-Bot-Url is not a ws:// or wss:// URL' });
  });

  it('ignores a URL header that the config does not name', () => {
    const { urlHeader: _unused, ...withoutHeader } = options;
    const d = ok([['X-Bot-Url', 'ws://bots.example.com/']], withoutHeader);
    expect(d.url.host).toBe('default.example.com');
    expect(d.customParameters).toEqual({ 'Bot-Url': 'ws://bots.example.com/' });
  });
});
