// Which media host a new leg goes to, one rule for placement (the worker pool) and admission (the call manager): a host
// over an overload limit comes last, then the one with the fewest legs, then the one whose event loop is least busy.
import type { HostLimits, HostLoad } from './types.js';

/** Which limit a host is over: its clock runs later than maxClockLagMs (0 never), or its loop is busier than allowed. */
export function overLimit(load: Pick<HostLoad, 'clockLagMs' | 'busy'>, limits: HostLimits): 'clockLag' | 'busy' | undefined {
  if (limits.maxClockLagMs > 0 && load.clockLagMs > limits.maxClockLagMs) return 'clockLag';
  if (load.busy > limits.maxEventLoopUtilization) return 'busy';
  return undefined;
}

/** Orders hosts best first: not over a limit, then fewest legs, then least busy. */
export function compareHosts(limits: HostLimits): (a: HostLoad, b: HostLoad) => number {
  const over = (load: HostLoad) => (overLimit(load, limits) ? 1 : 0);
  return (a, b) => over(a) - over(b) || a.legs - b.legs || a.busy - b.busy;
}

/** The index of the host a new leg goes to, of those that are up; -1 when none is. Over a limit only if all are. */
export function preferredHost(loads: readonly HostLoad[], limits: HostLimits): number {
  const compare = compareHosts(limits);
  let best = -1;
  loads.forEach((load, i) => {
    if (load.up && (best < 0 || compare(load, loads[best]!) < 0)) best = i;
  });
  return best;
}
