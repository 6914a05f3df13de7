// HTTP deliveries that run after a call (webhooks, recording uploads): each retried with backoff, bounded in time, and
// the ones still in flight waited for, then abandoned, when the bridge stops.

export interface DeliveryOptions {
  /** Each attempt may take this long. */
  readonly timeoutMs: number;
  /** Further attempts after one that failed for a reason worth retrying (no answer, 5xx, 408, 429). */
  readonly retries: number;
  /** Wait before the first retry; doubled before each next one. */
  readonly backoffMs: number;
}

export interface DeliveryRequest {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

/** How a delivery ended: the attempt that succeeded, or why the last one failed (empty when stopped first). */
export type DeliveryOutcome = { readonly ok: true; readonly attempt: number; readonly status: number } | { readonly ok: false; readonly problem: string };

/** Answers worth another attempt. */
const retryable = (status: number): boolean => status >= 500 || status === 408 || status === 429;

export class Deliveries {
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();

  constructor(private readonly options: DeliveryOptions) {}

  get pending(): number {
    return this.#inFlight.size;
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Keeps `job` (a delivery and what follows it) among those `close()` waits for. */
  track(job: Promise<unknown>): void {
    this.#inFlight.add(job);
    void job.finally(() => this.#inFlight.delete(job));
  }

  /** Sends `request` until an attempt succeeds, one fails for good, the retries run out or the bridge stops. */
  async deliver(request: DeliveryRequest, onFailedAttempt: (attempt: number, problem: string) => void): Promise<DeliveryOutcome> {
    const { timeoutMs, retries, backoffMs } = this.options;
    let problem = '';
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      if (attempt > 1 && !(await backoff(backoffMs * 2 ** (attempt - 2), this.#stop.signal))) break;
      try {
        const res = await fetch(request.url, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#stop.signal]),
        });
        await res.body?.cancel();
        if (res.ok) return { ok: true, attempt, status: res.status };
        problem = `HTTP ${res.status}`;
        if (!retryable(res.status)) break;
      } catch (err) {
        problem = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      }
      onFailedAttempt(attempt, problem);
    }
    return { ok: false, problem };
  }

  /** Waits for the deliveries in flight, retries included, for up to `timeoutMs`; then abandons the rest. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.#inFlight), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.#stop.abort();
    await Promise.all(this.#inFlight);
  }
}

/** Resolves true after `ms`, or false at once when `signal` aborts (the sender is closing). */
function backoff(ms: number, signal: AbortSignal): Promise<boolean> {
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
