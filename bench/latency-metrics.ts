// The bridge's own latency histogram from /metrics (bridge_latency_seconds{path}): the buckets at the start and the
// end of the window, subtracted, give the window's distribution; quantiles are interpolated within a bucket as
// Prometheus's histogram_quantile does.

const METRIC = 'bridge_latency_seconds_bucket';
export const LATENCY_PATHS = ['caller_to_bot', 'bot_to_caller'] as const;
export type LatencyPath = (typeof LATENCY_PATHS)[number];

/** Cumulative bucket counts by upper bound (seconds), per path. */
export type LatencyBuckets = Map<LatencyPath, Map<number, number>>;

export function readLatencyBuckets(metricsText: string): LatencyBuckets {
  const buckets: LatencyBuckets = new Map();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${METRIC}{`)) continue;
    const match = /^\S+\{(.*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = new Map([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const path = labels.get('path') as LatencyPath | undefined;
    const le = labels.get('le');
    if (!path || !LATENCY_PATHS.includes(path) || le === undefined) continue;
    if (!buckets.has(path)) buckets.set(path, new Map());
    buckets.get(path)!.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(match[2]));
  }
  return buckets;
}

export interface LatencyQuantiles {
  readonly observations: number;
  /** A quantile in the first bucket says only "at most its bound"; one in the +Inf bucket, "above the highest". */
  readonly firstBoundMs: number;
  readonly topBoundMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** The window's p50 and p99 for `path`; undefined when the bridge does not export the histogram. */
export function windowQuantiles(before: LatencyBuckets, after: LatencyBuckets, path: LatencyPath): LatencyQuantiles | undefined {
  const end = after.get(path);
  if (!end) return undefined;
  const startCounts = before.get(path);
  const bounds = [...end.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((le) => (end.get(le) ?? 0) - (startCounts?.get(le) ?? 0));
  const total = cumulative.at(-1) ?? 0;
  const quantile = (q: number) => {
    if (total === 0) return Number.NaN;
    const rank = q * total;
    const i = cumulative.findIndex((count) => count >= rank);
    const upper = bounds[i]!;
    const lower = i > 0 ? bounds[i - 1]! : 0;
    // The +Inf bucket has no upper bound: its lower bound is the best answer there is.
    if (!Number.isFinite(upper)) return lower * 1000;
    const below = i > 0 ? cumulative[i - 1]! : 0;
    const inBucket = cumulative[i]! - below;
    return (lower + ((upper - lower) * (rank - below)) / Math.max(1, inBucket)) * 1000;
  };
  const finite = bounds.filter(Number.isFinite);
  return { observations: total, firstBoundMs: (finite[0] ?? 0) * 1000, topBoundMs: (finite.at(-1) ?? 0) * 1000, p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}
