// A client for the bridge's call API in tests: JSON requests with the bearer token, and polling a call's record.

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  // The API's JSON, as tests read it.
  readonly body: any;
}

export interface ApiRequestOptions {
  /** Another token, or null for none (default: the client's). */
  readonly token?: string | null;
  readonly headers?: Record<string, string>;
}

export type CallApiClient = (method: string, path: string, body?: unknown, options?: ApiRequestOptions) => Promise<ApiAnswer>;

/** A string body is sent as it is; anything else as JSON. */
export function callApiClient(httpPort: number, token: string | undefined): CallApiClient {
  return async (method, path, body, options = {}) => {
    const bearer = options.token === undefined ? token : options.token;
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      method,
      headers: {
        ...(bearer != null && { authorization: `Bearer ${bearer}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
}

/** Polls GET /v1/calls/{sid} until `done` holds for the record; resolves with it. */
export async function recordWhen(api: CallApiClient, sid: string, done: (record: any) => boolean, what: string, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api('GET', `/v1/calls/${sid}`);
    if (body && done(body)) return body;
    if (Date.now() > deadline) throw new Error(`call ${sid}: no ${what} within ${timeoutMs} ms (status ${body?.status})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
