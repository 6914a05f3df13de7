// The one rule placement (the worker pool) and admission (the call manager) share: a host over an overload limit gets
// new legs last, then the fewest legs wins, then the least busy event loop; hosts that are down get none.
import { describe, expect, it } from 'vitest';
import { overLimit, preferredHost, type HostLoad } from '../../src/stream/index.js';

const limits = { maxClockLagMs: 40, maxEventLoopUtilization: 0.9 };

function host(name: string, load: Partial<HostLoad> = {}): HostLoad {
  return { name, legs: 0, clockLagMs: 0, busy: 0, rtpPortsInUse: 0, packets: { in: 0, out: 0, lost: 0 }, queuedMs: 0, maxQueuedMs: 0, heapUsedBytes: 0, up: true, ...load };
}

const pick = (loads: HostLoad[], with_ = limits) => loads[preferredHost(loads, with_)]?.name;

describe('overLimit', () => {
  it('names the limit a host is past, the clock first; at the limit is not past it', () => {
    expect(overLimit(host('a', { clockLagMs: 41, busy: 0.95 }), limits)).toBe('clockLag');
    expect(overLimit(host('a', { clockLagMs: 40, busy: 0.95 }), limits)).toBe('busy');
    expect(overLimit(host('a', { clockLagMs: 40, busy: 0.9 }), limits)).toBeUndefined();
  });

  it('ignores the clock when maxClockLagMs is 0, and nothing is busier than 1', () => {
    expect(overLimit(host('a', { clockLagMs: 5000, busy: 1 }), { maxClockLagMs: 0, maxEventLoopUtilization: 1 })).toBeUndefined();
  });
});

describe('preferredHost', () => {
  it('prefers a host within the limits to one with fewer legs past them', () => {
    expect(pick([host('late', { legs: 0, clockLagMs: 80 }), host('fine', { legs: 9, clockLagMs: 5 })])).toBe('fine');
    expect(pick([host('busy', { legs: 0, busy: 0.95 }), host('fine', { legs: 9, busy: 0.5 })])).toBe('fine');
  });

  it('between hosts within the limits, the fewest legs, then the least busy, then the first', () => {
    expect(pick([host('a', { legs: 3, busy: 0.1 }), host('b', { legs: 2, busy: 0.8 })])).toBe('b');
    expect(pick([host('a', { legs: 2, busy: 0.5 }), host('b', { legs: 2, busy: 0.4 })])).toBe('b');
    expect(pick([host('a', { legs: 2, busy: 0.4 }), host('b', { legs: 2, busy: 0.4 })])).toBe('a');
  });

  it('when every host is past a limit, the same order among them (lateness itself does not rank)', () => {
    expect(pick([host('a', { legs: 1, clockLagMs: 50 }), host('b', { legs: 0, clockLagMs: 90 })])).toBe('b');
    expect(pick([host('a', { legs: 1, clockLagMs: 50, busy: 0.2 }), host('b', { legs: 1, busy: 0.95 })])).toBe('a');
  });

  it('skips hosts that are down, and finds none when no host is up', () => {
    expect(pick([host('down', { up: false }), host('late', { legs: 4, clockLagMs: 100 })])).toBe('late');
    expect(preferredHost([host('down', { up: false })], limits)).toBe(-1);
    expect(preferredHost([], limits)).toBe(-1);
  });
});
