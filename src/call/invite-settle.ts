// When an INVITE we sent is over: its final response came (answered or failed). A CANCELled one is waited for at most
// 64*T1 (with the default T1), and the bound's timer goes with it: left to run, every ended call would keep one (and
// what it holds) that long.
import type { OutgoingCall } from '../signaling/index.js';

const SETTLE_MS = 32_000;

/** Resolves when `outgoing` is answered or fails. */
export function whenSettled(outgoing: OutgoingCall): Promise<void> {
  return new Promise((resolve) => {
    outgoing.once('answered', () => resolve());
    outgoing.once('failed', () => resolve());
  });
}

/** `settled`, or SETTLE_MS, whichever comes first. */
export function settledWithin(settled: Promise<void>): Promise<void> {
  let bound: NodeJS.Timeout | undefined;
  return Promise.race([settled, new Promise<void>((resolve) => (bound = setTimeout(resolve, SETTLE_MS)).unref())]).finally(() => clearTimeout(bound));
}
