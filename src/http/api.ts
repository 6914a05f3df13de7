// The call API under /v1: bearer-token auth (constant time), JSON bodies validated like the config (400 naming the
// field), bounded in size, and each request logged without its credentials.
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CallControl, PlaceRequest } from '../call/index.js';

export interface ApiOptions {
  readonly control: CallControl;
  /** Without one the API is open (allowed on loopback only; the config refuses it elsewhere). */
  readonly token: string | undefined;
  readonly log: Logger;
  /** Request bodies larger than this get 413. */
  readonly maxBodyBytes?: number;
}

const MAX_BODY_BYTES = 64 * 1024;

const required = (what: string) => ({ error: (issue: { input: unknown }) => (issue.input === undefined ? 'required' : `must be ${what}`) });

const url = (schemes: readonly string[]) =>
  z.string(required('a string')).transform((text, ctx) => {
    try {
      const parsed = new URL(text);
      if (schemes.includes(parsed.protocol.slice(0, -1))) return parsed;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: `must be a ${schemes.join(':// or ')}:// URL` });
    return z.NEVER;
  });

const oneLine = z.string(required('a string')).max(256, 'must be at most 256 characters').regex(/^[^\r\n\0]*$/, 'must be one line');

const placeBody = z.strictObject({
  to: z.string(required('a string')).min(1, 'required').max(256, 'must be at most 256 characters'),
  from: z.string(required('a string')).regex(/^\+?[A-Za-z0-9._-]{1,64}$/, 'must be a number or a SIP user part (letters, digits, "+", ".", "_", "-")'),
  trunk: z.string(required('a string')).optional(),
  bot_url: url(['ws', 'wss']).optional(),
  sample_rate: z.union([z.literal(8000), z.literal(16000), z.literal(24000)], { error: 'must be 8000, 16000 or 24000' }).optional(),
  custom_parameters: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'keys must be 1-64 letters, digits, "_", "." or "-"'), oneLine)
    .refine((r) => Object.keys(r).length <= 32, 'at most 32 parameters')
    .default({}),
  headers: z
    .record(z.string().regex(/^X-[A-Za-z0-9-]{1,64}$/i, 'only X- headers may be set'), oneLine)
    .default({}),
  webhook_url: url(['http', 'https']).optional(),
  ring_timeout_s: z.number(required('a number')).int('must be a whole number').min(1, 'must be at least 1').max(600, 'must be at most 600').default(60),
});

function issueText(issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0]!;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') return `${[path, issue.keys[0]].filter(Boolean).join('.')}: unknown field`;
  if (issue.code === 'invalid_key') return `${path}: ${issue.issues[0]?.message ?? issue.message}`;
  return `${path || 'body'}: ${issue.message}`;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

type Answer = { status: number; body?: unknown; headers?: Record<string, string>; callSid?: string };

export class CallApi {
  readonly #token: Buffer | undefined;
  readonly #maxBody: number;

  constructor(private readonly options: ApiOptions) {
    this.#token = options.token === undefined ? undefined : digest(options.token);
    this.#maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
    if (!options.token) options.log.warn('api.token is not set: the call API on the loopback listener takes requests without a token');
  }

  /** Answers requests under /v1/; false for other paths. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean {
    if (!path.startsWith('/v1/') && path !== '/v1') return false;
    void this.#answer(req, path).then(
      (answer) => this.#send(req, res, path, answer),
      (err: Error) => {
        this.options.log.error({ err }, 'API request failed');
        this.#send(req, res, path, { status: 500, body: { error: 'internal error' } });
      },
    );
    return true;
  }

  async #answer(req: http.IncomingMessage, path: string): Promise<Answer> {
    if (!this.#authorized(req.headers.authorization)) {
      req.resume();
      return { status: 401, body: { error: 'unauthorized' }, headers: { 'WWW-Authenticate': 'Bearer' } };
    }
    const { control } = this.options;
    const method = req.method ?? 'GET';
    if (path === '/v1/calls') {
      if (method === 'GET') return { status: 200, body: { calls: control.list() } };
      if (method !== 'POST') return { status: 405, body: { error: 'method not allowed' }, headers: { Allow: 'GET, POST' } };
      const body = await this.#readJson(req);
      if ('status' in body) return body;
      const parsed = placeBody.safeParse(body.json);
      if (!parsed.success) return { status: 400, body: { error: issueText(parsed.error.issues) } };
      const b = parsed.data;
      const request: PlaceRequest = {
        to: b.to,
        from: b.from,
        ...(b.trunk !== undefined && { trunk: b.trunk }),
        ...(b.bot_url && { botUrl: b.bot_url }),
        ...(b.sample_rate && { sampleRate: b.sample_rate }),
        customParameters: b.custom_parameters,
        headers: b.headers,
        ...(b.webhook_url && { webhookUrl: b.webhook_url }),
        ringTimeoutS: b.ring_timeout_s,
      };
      const placed = control.place(request);
      if ('error' in placed) {
        return { status: placed.status, body: { error: placed.error }, ...(placed.retryAfter !== undefined && { headers: { 'Retry-After': String(placed.retryAfter) } }) };
      }
      return { status: 201, body: { call_sid: placed.callSid, stream_sid: placed.streamSid, status: 'queued' }, callSid: placed.callSid };
    }
    const transfer = /^\/v1\/calls\/([A-Za-z0-9_-]{1,128})\/transfer$/.exec(path);
    if (transfer) {
      const callSid = transfer[1]!;
      if (method !== 'POST') return { status: 405, body: { error: 'method not allowed' }, headers: { Allow: 'POST' }, callSid };
      const body = await this.#readJson(req);
      if ('status' in body) return body;
      // The bot's `transfer` object, bare or wrapped as in its message.
      const json = body.json as { transfer?: unknown; to?: unknown } | null;
      const object = json && typeof json === 'object' && json.to === undefined && json.transfer !== undefined ? json.transfer : body.json;
      const result = control.transfer(callSid, object);
      if (result === 'accepted') return { status: 202, body: { call_sid: callSid, transfer: { status: 'trying' } }, callSid };
      return { status: result.status, body: { error: result.error }, callSid };
    }
    const match = /^\/v1\/calls\/([A-Za-z0-9_-]{1,128})$/.exec(path);
    if (!match) return { status: 404, body: { error: 'not found' } };
    const callSid = match[1]!;
    if (method === 'GET') {
      const record = control.get(callSid);
      return record ? { status: 200, body: record, callSid } : { status: 404, body: { error: `no call ${callSid}` }, callSid };
    }
    if (method === 'DELETE') {
      const result = control.hangup(callSid);
      if (result === 'accepted') return { status: 202, body: control.get(callSid), callSid };
      if (result === 'ended') return { status: 409, body: { error: `call ${callSid} has already ended` }, callSid };
      return { status: 404, body: { error: `no call ${callSid}` }, callSid };
    }
    return { status: 405, body: { error: 'method not allowed' }, headers: { Allow: 'GET, DELETE' }, callSid };
  }

  /** Digests compared in constant time, so neither the token nor its length leaks through timing. */
  #authorized(header: string | undefined): boolean {
    if (!this.#token) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const given = digest(match?.[1] ?? '');
    return timingSafeEqual(given, this.#token) && match !== null;
  }

  #readJson(req: http.IncomingMessage): Promise<{ json: unknown } | Answer> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      return Promise.resolve({ status: 415, body: { error: 'Content-Type must be application/json' } });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.#maxBody) {
      req.resume();
      return Promise.resolve({ status: 413, body: { error: `body over ${this.#maxBody} bytes` } });
    }
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > this.#maxBody) {
          done = true;
          resolve({ status: 413, body: { error: `body over ${this.#maxBody} bytes` }, headers: { Connection: 'close' } });
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        try {
          resolve({ json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        } catch (err) {
          resolve({ status: 400, body: { error: `body: not JSON: ${(err as Error).message}` } });
        }
      });
      req.on('error', () => {
        if (!done) resolve({ status: 400, body: { error: 'body: incomplete' } });
        done = true;
      });
    });
  }

  #send(req: http.IncomingMessage, res: http.ServerResponse, path: string, answer: Answer): void {
    const body = answer.body === undefined ? '' : JSON.stringify(answer.body);
    this.options.log.info({ method: req.method, path, status: answer.status, ...(answer.callSid && { call_sid: answer.callSid }) }, 'API request');
    res.writeHead(answer.status, { ...(body && { 'Content-Type': 'application/json' }), ...answer.headers });
    res.end(body);
  }
}
