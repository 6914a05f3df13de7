// Outbound admission through a trunk: which trunk, which Request-URI, whether the number may be dialled, and the
// trunk's pacing (calls per second, waiting in order in a bounded queue).

export interface Trunk {
  readonly name: string;
  /** The next hop, e.g. `sip:pstn.in2.exotel.com:5070;transport=tcp`. */
  readonly uri: string;
  /** The URI's host, for Request-URIs and the default From host. */
  readonly host: string;
  readonly username?: string;
  readonly password?: string;
  readonly fromDomain?: string;
  readonly maxConcurrentCalls?: number;
  readonly callsPerSecond?: number;
  readonly allowedDestinations?: readonly RegExp[];
  readonly headers: Readonly<Record<string, string>>;
  /** The CA (PEM, read from the config's `ca` file) a TLS trunk's certificate must chain to; re-read on SIGHUP. */
  readonly tls?: { readonly ca?: Buffer };
  /** SDES-SRTP toward the trunk, through rtpengine. */
  readonly srtp?: boolean;
}

export type Refusal = { readonly status: 400 | 403 | 404 | 429 | 503; readonly error: string; readonly retryAfter?: number };

export function pickTrunk(trunks: readonly Trunk[], name: string | undefined): Trunk | Refusal {
  if (name === undefined) {
    if (trunks.length === 1) return trunks[0]!;
    return { status: 400, error: trunks.length === 0 ? 'trunk: no trunk is configured' : 'trunk: required when more than one trunk is configured' };
  }
  return trunks.find((t) => t.name === name) ?? { status: 404, error: `trunk: no trunk named "${name}"` };
}

export const NUMBER = /^\+?[0-9]{2,20}$/;
const SIP_URI = /^sips?:[^\s<>"]+$/i;

/** The Request-URI for `to`: a number at the trunk's host, or a full URI when a direct-target rule allows it. */
export function destination(trunk: Trunk, to: string, allowedTargets: readonly RegExp[]): { uri: string } | Refusal {
  if (SIP_URI.test(to)) {
    if (!allowedTargets.some((r) => r.test(to))) {
      return { status: 403, error: 'to: SIP URI targets must match transfer.allowedTargets (none does)' };
    }
    return { uri: to };
  }
  if (!NUMBER.test(to)) return { status: 400, error: 'to: must be a number (digits, optional leading +) or a sip:/sips: URI' };
  const rules = trunk.allowedDestinations;
  if (rules && !rules.some((r) => r.test(to))) {
    return { status: 403, error: `to: ${to} matches none of trunk ${trunk.name}'s allowedDestinations` };
  }
  return { uri: `sip:${to}@${trunk.host}` };
}

/** A place in a pacer's queue. */
export interface PacerTicket {
  /** The call can go now (its bot is connected): `go` runs at its turn. */
  ready(go: () => void): void;
  /** Leaves the queue (the call ended while waiting). */
  cancel(): void;
}

/** A channel on a trunk and a place in its pacing, for an outbound call or a transfer's agent leg. */
export interface TrunkSlot {
  readonly ticket: PacerTicket;
  /** The channel is free again (and the place in the queue, if still waiting); once. */
  readonly release: () => void;
}

interface Entry {
  go?: () => void;
  cancelled: boolean;
}

/**
 * Lets calls go one at a time at least `1000 / perSecond` ms apart, in the order they came; a call whose bot is not
 * connected yet holds the ones behind it. At most `bound` wait.
 */
export class Pacer {
  readonly #queue: Entry[] = [];
  readonly #intervalMs: number;
  #last = -Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly perSecond: number,
    readonly bound: number,
  ) {
    this.#intervalMs = 1000 / perSecond;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Seconds until a place in the queue frees up, for Retry-After. */
  get retryAfter(): number {
    return Math.max(1, Math.ceil(this.#queue.length / this.perSecond));
  }

  enqueue(): PacerTicket | undefined {
    if (this.#queue.length >= this.bound) return undefined;
    const entry: Entry = { cancelled: false };
    this.#queue.push(entry);
    return {
      ready: (go) => {
        entry.go = go;
        this.#pump();
      },
      cancel: () => {
        entry.cancelled = true;
        this.#pump();
      },
    };
  }

  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (;;) {
      const head = this.#queue[0];
      if (!head) return;
      if (head.cancelled) {
        this.#queue.shift();
        continue;
      }
      if (!head.go) return;
      const wait = this.#last + this.#intervalMs - performance.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#pump(), Math.ceil(wait));
        return;
      }
      this.#queue.shift();
      this.#last = performance.now();
      head.go();
    }
  }
}

/** A pacer that lets every call go at once (trunks without callsPerSecond). */
export const unpaced: PacerTicket = { ready: (go) => go(), cancel: () => {} };
