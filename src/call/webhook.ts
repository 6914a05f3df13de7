// Posts each call's report to a webhook after the call: JSON, retried with backoff, bounded in time and in how many
// wait; it runs after teardown, so a slow or dead webhook never holds a call, a port or a socket.
import type { Logger } from 'pino';
import type { CallReport } from './report.js';

export interface WebhookOptions {
  /** Each attempt may take this long. */
  readonly timeoutMs: number;
  /** Further attempts after one that failed for a reason worth retrying (no answer, 5xx, 408, 429). */
  readonly retries: number;
  /** Wait before the first retry; doubled before each next one. */
  readonly backoffMs: number;
  /** Reports in flight at once; more are dropped with a warning. */
  readonly maxPending: number;
  readonly log: Logger;
}

export type WebhookResult = 'delivered' | 'failed' | 'dropped';

/** Userinfo in a webhook URL becomes Basic auth: fetch refuses URLs with credentials, and logs must not show them. */
function request(url: URL): { target: string; shown: string; headers: Record<string, string> } {
  const target = new URL(url.href);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'sip-ws-bridge' };
  if (target.username || target.password) {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  return { target: target.href, shown: `${target.origin}${target.pathname}`, headers };
}

/** Answers worth another attempt (for webhooks and recording uploads alike). */
export const retryable = (status: number): boolean => status >= 500 || status === 408 || status === 429;

export class WebhookSender {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();

  constructor(
    private readonly options: WebhookOptions,
    private readonly onResult?: (result: WebhookResult) => void,
  ) {}

  get pending(): number {
    return this.#inFlight.size;
  }

  /** Starts delivering `report` (a post-call report or a status event) to `url`; returns at once. */
  send(url: URL, report: Pick<CallReport, 'call_sid'> & Readonly<Record<string, unknown>>): void {
    const log = this.options.log.child({ call_sid: report.call_sid });
    if (this.#stop.signal.aborted || this.#inFlight.size >= this.options.maxPending) {
      log.warn({ pending: this.#inFlight.size }, 'post-call webhook dropped: too many reports waiting');
      this.onResult?.('dropped');
      return;
    }
    const delivery = this.#deliver(url, JSON.stringify(report), log).then((result) => this.onResult?.(result));
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }

  /** Waits for the reports in flight, retries included, for up to `timeoutMs`; then abandons the rest. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.#inFlight), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.#stop.abort();
    await Promise.all(this.#inFlight);
  }

  async #deliver(url: URL, body: string, log: Logger): Promise<WebhookResult> {
    const { target, shown, headers } = request(url);
    const { timeoutMs, retries, backoffMs } = this.options;
    let problem = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0 && !(await this.#sleep(backoffMs * 2 ** (attempt - 1)))) break;
      try {
        const res = await fetch(target, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#stop.signal]),
        });
        await res.body?.cancel();
        if (res.ok) {
          log.debug({ webhook: shown, status: res.status, attempt: attempt + 1 }, 'post-call webhook delivered');
          return 'delivered';
        }
        problem = `HTTP ${res.status}`;
        if (!retryable(res.status)) break;
      } catch (err) {
        problem = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      }
      log.warn({ webhook: shown, attempt: attempt + 1, reason: problem }, 'post-call webhook attempt failed');
    }
    log.error({ webhook: shown, reason: problem || 'the bridge is stopping' }, 'post-call webhook not delivered');
    return 'failed';
  }

  #sleep(ms: number): Promise<boolean> {
    return backoff(ms, this.#stop.signal);
  }
}

/** Resolves true after `ms`, or false at once when `signal` aborts (the sender is closing). */
export function backoff(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
