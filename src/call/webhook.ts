// Posts each call's report to a webhook after the call: JSON, retried with backoff, bounded in time and in how many
// wait; it runs after teardown, so a slow or dead webhook never holds a call, a port or a socket.
import type { Logger } from 'pino';
import { Deliveries, type DeliveryOptions } from './delivery.js';
import type { CallReport } from './report.js';

export interface WebhookOptions extends DeliveryOptions {
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

export class WebhookSender {
  readonly #deliveries: Deliveries;

  constructor(
    private readonly options: WebhookOptions,
    private readonly onResult?: (result: WebhookResult) => void,
  ) {
    this.#deliveries = new Deliveries(options);
  }

  get pending(): number {
    return this.#deliveries.pending;
  }

  /** Starts delivering `report` (a post-call report or a status event) to `url`; returns at once. */
  send(url: URL, report: Pick<CallReport, 'call_sid'> & Readonly<Record<string, unknown>>): void {
    const log = this.options.log.child({ call_sid: report.call_sid });
    if (this.#deliveries.stopped || this.#deliveries.pending >= this.options.maxPending) {
      log.warn({ pending: this.#deliveries.pending }, 'post-call webhook dropped: too many reports waiting');
      this.onResult?.('dropped');
      return;
    }
    this.#deliveries.track(this.#deliver(url, JSON.stringify(report), log).then((result) => this.onResult?.(result)));
  }

  /** Waits for the reports in flight, retries included, for up to `timeoutMs`; then abandons the rest. */
  close(timeoutMs: number): Promise<void> {
    return this.#deliveries.close(timeoutMs);
  }

  async #deliver(url: URL, body: string, log: Logger): Promise<WebhookResult> {
    const { target, shown, headers } = request(url);
    const outcome = await this.#deliveries.deliver({ url: target, method: 'POST', headers, body }, (attempt, reason) =>
      log.warn({ webhook: shown, attempt, reason }, 'post-call webhook attempt failed'),
    );
    if (outcome.ok) {
      log.debug({ webhook: shown, status: outcome.status, attempt: outcome.attempt }, 'post-call webhook delivered');
      return 'delivered';
    }
    log.error({ webhook: shown, reason: outcome.problem || 'the bridge is stopping' }, 'post-call webhook not delivered');
    return 'failed';
  }
}
