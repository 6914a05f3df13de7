import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { streamPolicies } from '../../src/bridge.js';
import { configPath, ConfigError, loadConfig, parseConfig } from '../../src/config/index.js';

function writeConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bridge-config-')), 'bridge.yaml');
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('loads the shipped default config with the documented embedded defaults', () => {
    const config = loadConfig('config/default.yaml');
    expect(config.sip.udp).toEqual({ host: '127.0.0.1', port: 5060 });
    expect(config.sip.tcp).toEqual({ host: '127.0.0.1', port: 5070 });
    expect(config.sip.tls).toBeUndefined();
    expect(config.media.rtpPorts).toEqual({ min: 10000, max: 20000 });
    expect(config.http.port).toBe(8080);
    expect(config.bot.defaultUrl?.href).toBe('ws://127.0.0.1:5001/media');
    expect(config.bot.sampleRate).toBe(8000);
    expect(config.bot.chunkMs).toBe(100);
    expect(config.sip.timers).toEqual({ t1: 500, t2: 4000, t4: 5000 });
  });

  it('fills every default from an empty file', () => {
    const config = parseConfig(null, 'empty');
    expect(config.sip.tcp).toEqual({ host: '127.0.0.1', port: 5070 });
    expect(config.bot.connectTimeoutMs).toBe(10_000);
    expect(config.media.maxQueueMs).toBe(60_000);
    expect(config.media.workers).toBe(availableParallelism());
    expect(config.routes).toEqual([]);
  });

  it('names the key and the problem for invalid values, unknown keys and bad routes', () => {
    const message = errorOf(() =>
      parseConfig(
        {
          sip: { tcp: { port: 'abc' }, colour: 'blue' },
          bot: { sampleRate: 11025 },
          routes: [{ header: 'X-A', equals: 'a', url: 'http://bot' }, { header: 'X-B', url: 'ws://bot' }, { header: 'X-C', matches: '(', url: 'ws://bot' }],
        },
        'bad.yaml',
      ),
    );
    expect(message).toMatch(/^invalid config bad\.yaml:/);
    expect(message).toMatch(/sip\.tcp\.port: .*number/i);
    expect(message).toMatch(/sip: .*colour/);
    expect(message).toMatch(/bot\.sampleRate: /);
    expect(message).toMatch(/routes\[0\]\.url: must be a ws:\/\/ or wss:\/\/ URL/);
    expect(message).toMatch(/routes\[1\]: set exactly one of "equals" and "matches"/);
    expect(message).toMatch(/routes\[2\]\.matches: invalid regular expression/);
  });

  it('rejects an empty RTP range and a config without any SIP listener', () => {
    expect(errorOf(() => parseConfig({ media: { rtpPorts: { min: 20000, max: 10000 } } }, 'x'))).toMatch(/media\.rtpPorts: min 20000 is above max 10000/);
    expect(errorOf(() => parseConfig({ sip: { udp: false, tcp: false } }, 'x'))).toMatch(/sip: no SIP listener/);
  });

  it('refuses more media workers than the RTP range can give 2 ports each', () => {
    const rtpPorts = { min: 20000, max: 20005 };
    expect(errorOf(() => parseConfig({ media: { rtpPorts, workers: 4 } }, 'x'))).toMatch(/media\.workers: 4 workers cannot share rtpPorts 20000-20005/);
    expect(parseConfig({ media: { rtpPorts, workers: 3 } }, 'x').media.workers).toBe(3);
    expect(errorOf(() => parseConfig({ media: { workers: -1 } }, 'x'))).toMatch(/media\.workers: /);
  });

  it('turns TLS on when a cert is configured, and reports unreadable or invalid files', () => {
    const config = parseConfig({ sip: { tls: { port: 5061, cert: '/etc/cert.pem', key: '/etc/key.pem' } } }, 'x');
    expect(config.sip.tls).toEqual({ host: '0.0.0.0', port: 5061, cert: '/etc/cert.pem', key: '/etc/key.pem' });
    expect(errorOf(() => loadConfig('/nonexistent/bridge.yaml'))).toMatch(/cannot read config \/nonexistent\/bridge\.yaml/);
    expect(errorOf(() => loadConfig(writeConfig('sip: [unclosed')))).toMatch(/is not valid YAML/);
  });

  it('takes the path from --config, then BRIDGE_CONFIG, then the default', () => {
    expect(configPath(['--config', 'a.yaml'], { BRIDGE_CONFIG: 'b.yaml' })).toBe('a.yaml');
    expect(configPath(['--config=c.yaml'], {})).toBe('c.yaml');
    expect(configPath([], { BRIDGE_CONFIG: 'b.yaml' })).toBe('b.yaml');
    expect(configPath([], {})).toBe('config/default.yaml');
  });
});

describe('config: call API and trunks', () => {
  it('refuses to start the API off loopback without api.token, and takes it on loopback', () => {
    expect(errorOf(() => parseConfig({ http: { host: '0.0.0.0' } }, 'open.yaml'))).toMatch(/api\.token: required when http\.host \(0\.0\.0\.0\) is not loopback/);
    expect(parseConfig({ http: { host: '0.0.0.0' }, api: { token: 'secret' } }, 'ok').api.token).toBe('secret');
    expect(parseConfig({ http: { host: '127.0.0.1' } }, 'ok').api.token).toBeUndefined();
  });

  it('validates trunk URIs and compiles allowedDestinations', () => {
    const config = parseConfig(
      { trunks: [{ name: 'exotel', uri: 'sip:pstn.in2.exotel.com:5070;transport=tcp', allowedDestinations: ['^\\+91[6-9]\\d{9}$'], headers: { 'X-Campaign': 'default' } }] },
      'ok',
    );
    expect(config.trunks[0]!.allowedDestinations![0]!.test('+919876543210')).toBe(true);
    expect(config.trunks[0]!.headers).toEqual({ 'X-Campaign': 'default' });
    const message = errorOf(() =>
      parseConfig(
        {
          trunks: [
            { name: 'a', uri: 'http://x' },
            { name: 'b', uri: 'sips:x.example.com;transport=udp' },
            { name: 'c', uri: 'sip:x.example.com;transport=sctp' },
            { name: 'd', uri: 'sip:x', allowedDestinations: ['('] },
            { name: 'd', uri: 'sip:y', username: 'u' },
          ],
        },
        'bad.yaml',
      ),
    );
    expect(message).toMatch(/trunks\[0\]\.uri: must be sip:host/);
    expect(message).toMatch(/trunks\[1\]\.uri: /);
    expect(message).toMatch(/trunks\[2\]\.uri: /);
    expect(message).toMatch(/trunks\[3\]\.allowedDestinations\[0\]: invalid regular expression/);
    expect(message).toMatch(/trunks\[4\]: set both "username" and "password"/);
  });

  it('takes `srtp: true` on a trunk only with media.relay rtpengine', () => {
    const trunks = [{ name: 'tls', uri: 'sips:x.example.com', srtp: true }];
    expect(errorOf(() => parseConfig({ trunks }, 'bad.yaml'))).toMatch(/trunks\[0\]\.srtp: needs media\.relay: rtpengine/);
    const config = parseConfig({ trunks, media: { relay: 'rtpengine' } }, 'good.yaml');
    expect(config.trunks[0]!.srtp).toBe(true);
    expect(parseConfig({ trunks: [{ name: 'plain', uri: 'sip:x' }] }, 'good.yaml').trunks[0]!.srtp).toBe(false);
  });

  it("takes a TLS trunk's ca with the embedded stack, not with drachtio (whose server does the TLS)", () => {
    const trunks = [{ name: 'tls', uri: 'sips:trunk.example.com', ca: '/etc/bridge/trunk-ca.pem' }];
    expect(parseConfig({ trunks }, 'ok').trunks[0]!.ca).toBe('/etc/bridge/trunk-ca.pem');
    expect(errorOf(() => parseConfig({ sip: { backend: 'drachtio' }, trunks }, 'bad.yaml'))).toMatch(/trunks\[0\]\.ca: applies to sip\.backend embedded only/);
  });
});

describe('stream policies (listen-only, recording)', () => {
  it('takes a route\'s mode and recording, the global recording otherwise, and none with recording: false', () => {
    const config = parseConfig(
      {
        recording: { dir: '/rec/all' },
        routes: [
          { header: 'X-A', equals: 'listen', url: 'ws://bot', mode: 'listen' },
          { header: 'X-A', equals: 'own', url: 'ws://bot', recording: { dir: '/rec/own', channels: 'mono', upload: 'https://s3.example.com/{call_sid}.wav', keepLocal: false } },
          { header: 'X-A', equals: 'none', url: 'ws://bot', recording: false },
        ],
      },
      'test',
    );
    const policy = streamPolicies(config);
    const global = { dir: '/rec/all', channels: 'dual', format: 'wav', flushMs: 1000, keepLocal: true };
    expect(policy(undefined)).toEqual({ listenOnly: false, recording: global });
    expect(policy(0)).toEqual({ listenOnly: true, recording: global });
    expect(policy(1)).toEqual({ listenOnly: false, recording: { dir: '/rec/own', channels: 'mono', format: 'wav', flushMs: 1000, upload: 'https://s3.example.com/{call_sid}.wav', keepLocal: false } });
    expect(policy(2)).toEqual({ listenOnly: false });
    expect(streamPolicies(parseConfig({}, 'test'))(undefined)).toEqual({ listenOnly: false });
  });

  it('refuses an upload URL that is not http(s) and a format other than wav', () => {
    expect(() => parseConfig({ recording: { dir: '/r', upload: 'ftp://x/{call_sid}' } }, 'test')).toThrow(/http/);
    expect(() => parseConfig({ recording: { dir: '/r', format: 'mp3' } }, 'test')).toThrow(/format/);
  });
});
