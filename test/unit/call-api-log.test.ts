import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CallControl } from '../../src/call/index.js';
import { CallApi } from '../../src/http/index.js';

describe('call API log', () => {
  it('logs method, path, status and call_sid of every request, never the token or the Authorization header', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().trim().split('\n'));
        done();
      },
    });
    const control = { list: () => [], get: () => undefined, hangup: () => 'unknown', place: () => ({ status: 404, error: 'trunk: no trunk named "x"' }) };
    const api = new CallApi({ control: control as unknown as CallControl, token: 'sekrit-token-value', log: pino({ level: 'info' }, sink) });
    const server = http.createServer((req, res) => {
      if (!api.handle(req, res, (req.url ?? '/').split('?')[0]!)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const auth = { authorization: 'Bearer sekrit-token-value' };
      expect((await fetch(`${base}/v1/calls`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
      expect((await fetch(`${base}/v1/calls/abc123`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${base}/v1/calls`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"to":"1234","from":"99","trunk":"x"}' })).status).toBe(404);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'API request');
      expect(requests.map(({ method, path, status, call_sid }) => ({ method, path, status, call_sid }))).toEqual([
        { method: 'GET', path: '/v1/calls', status: 401, call_sid: undefined },
        { method: 'GET', path: '/v1/calls/abc123', status: 404, call_sid: 'abc123' },
        { method: 'POST', path: '/v1/calls', status: 404, call_sid: undefined },
      ]);
      const all = lines.join('\n');
      expect(all).not.toMatch(/sekrit|wrong-token|authorization/i);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
