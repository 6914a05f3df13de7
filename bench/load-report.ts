// The concurrent-calls part of the bench's report: a line per N and workers value, the Twilio bots beside the
// AgentStream ones, and each step in detail. With --repeat, a figure is the median of the rounds with its range.
import { callsTaken, type LoadResult } from './load-step.js';
import { bridgeFigures, bridgeIn, figureText, floorPerCall, pairText, perCall, perRound, resultFigures, spread, spreadText, workersOf, type LoadRound, type LoadRow } from './load-rounds.js';
import { fixed, mb, table, withWorkers, workersLabel } from './markdown.js';
import type { BenchOptions } from './options.js';
import type { LatencyPath } from './latency-metrics.js';

type Figure = (r: LoadResult, round: LoadRound) => number | undefined;

export function loadTable(options: BenchOptions, rows: readonly LoadRow[]): string {
  const lines = rows.flatMap((row) => {
    const workers: Array<number | undefined | null> = workersOf(row);
    if (workers.length) return workers.map((w) => ({ row, workers: w }));
    return row.rounds.some((round) => round.rtpengine ?? round.floor) ? [{ row, workers: null }] : [];
  });
  const header = ['N', 'bridge CPU %', 'bridge RSS MB', 'RSS/call KB', 'RTP loss % at caller', 'jitter p50 / p99 ms', 'latency caller→bot p50 / p99 ms', 'latency bot→caller p50 / p99 ms', 'rtpengine CPU %', 'CPU/call bridge ÷ rtpengine', 'Node floor CPU %', 'bridge ÷ floor'];
  return withWorkers(options.workers, header, lines.map(({ row, workers }) => ({ workers, cells: loadCells(row, workers) })));
}

/** One line of the table: the bridge with `workers` (null: none, rtpengine or the floor alone) beside the others. */
function loadCells(row: LoadRow, workers: number | undefined | null): string[] {
  const bridge = (figure: Figure) => (workers === null ? [] : bridgeFigures(row, workers, figure));
  const latency = (path: LatencyPath) => {
    const q = workers === null ? undefined : row.rounds.map((round) => bridgeIn(round, workers)?.latency[path]).find((quantiles) => quantiles);
    if (!q) return 'n/a';
    const ms = (value: number) => (value >= q.topBoundMs ? `> ${q.topBoundMs}` : value <= q.firstBoundMs ? `≤ ${q.firstBoundMs}` : fixed(value, 2));
    return `${spreadText(bridge((r) => r.latency[path]?.p50Ms), ms)} / ${spreadText(bridge((r) => r.latency[path]?.p99Ms), ms)}`;
  };
  // The bridge turns calls away when overloaded: the figures are then those of the calls it took, and per call
  // means per call taken.
  const up = spread(bridge((r) => r.callsUp.start));
  return [
    up && up.median < row.calls ? `${row.calls} (${fixed(up.median, 0)} up${up.count > 1 ? `, ${fixed(up.min, 0)}-${fixed(up.max, 0)}` : ''})` : String(row.calls),
    figureText(bridge((r) => r.cpuPercent), 1),
    figureText(bridge((r) => r.rss && mb(r.rss.loadedBytes)), 1),
    figureText(bridge((r) => r.rss && (r.rss.loadedBytes - r.rss.idleBytes) / 1024 / callsTaken(r)), 0),
    figureText(bridge((r) => r.rtp.lossPercent), 3),
    pairText(bridge((r) => r.rtp.jitterMs.p50), bridge((r) => r.rtp.jitterMs.p99), 2),
    latency('caller_to_bot'),
    latency('bot_to_caller'),
    figureText(perRound(row, (round) => round.rtpengine?.cpuPercent), 1),
    figureText(bridge((r, round) => round.rtpengine && perCall(r) / perCall(round.rtpengine)), 1, '×'),
    figureText(perRound(row, (round) => round.floor?.cpuPercent), 1),
    figureText(bridge((r, round) => round.floor && perCall(r) / floorPerCall(round.floor)), 1, '×'),
  ];
}

export function twilioTable(options: BenchOptions, rows: readonly LoadRow[]): string {
  return withWorkers(
    options.workers,
    ['N', 'exotel bots: bridge CPU %', 'twilio bots: bridge CPU %', 'CPU/call twilio ÷ exotel', 'twilio: RTP loss % at caller', 'twilio: jitter p50 / p99 ms'],
    rows.flatMap((row) =>
      workersOf(row, (round) => round.twilio).map((workers) => {
        const twilio = (figure: Figure) => resultFigures(row, (round) => round.twilio.find((r) => r.workers === workers), figure);
        const cells = [
          String(row.calls),
          figureText(bridgeFigures(row, workers, (r) => r.cpuPercent), 1),
          figureText(twilio((t) => t.cpuPercent), 1),
          figureText(twilio((t, round) => {
            const exotel = bridgeIn(round, workers);
            return exotel && perCall(t) / perCall(exotel);
          }), 2, '×'),
          figureText(twilio((t) => t.rtp.lossPercent), 3),
          pairText(twilio((t) => t.rtp.jitterMs.p50), twilio((t) => t.rtp.jitterMs.p99), 2),
        ];
        return { workers, cells };
      }),
    ),
  );
}

/** Each media host's legs, event-loop utilisation and clock lag at the window's end, from /health. */
const hostsText = (r: LoadResult) => r.hosts?.map((h) => `${h.name}${h.up ? '' : ' (down)'}: ${h.legs} / ${fixed(h.busy, 2)} / ${fixed(h.clockLagMs, 0)}`).join('; ') ?? '-';

const threadsText = (r: LoadResult) =>
  r.threads
    .filter(([, percent]) => percent > 0.5)
    .map(([name, percent]) => `${name} ${fixed(percent, 0)}`)
    .join(', ') || '-';

/** Every step as it ran, each round's apart. */
export function detailsTable(options: BenchOptions, rows: readonly LoadRow[]): string {
  const results = rows.flatMap(({ rounds }) =>
    rounds.flatMap(({ bridges, twilio, rtpengine }, index) =>
      [...bridges, ...twilio, rtpengine].filter((r): r is LoadResult => r !== undefined).map((r) => ({ r, round: index + 1 })),
    ),
  );
  const hosts = results.some(({ r }) => r.hosts);
  const header = ['N', 'tested', 'calls up (window start / end)', 'failed calls', 'streams captured', 'frames lost / expected', 'jitter max ms', 'kernel UDP drops (own sockets / InErrors / RcvbufErrors)', 'capture drops', 'CPU % SIPp / bot or echo / dumpcap / whole machine'];
  return table(
    [...header, 'CPU % by thread (over 0.5 %)', ...(hosts ? ['media hosts at the end: legs / busy / clock lag ms'] : [])],
    results.map(({ r, round }) => [
      String(r.calls),
      `${r.target}${workersLabel(r.workers)}${r.protocol === 'twilio' ? ' (twilio bots)' : ''}${options.repeat > 1 ? `, round ${round}` : ''}`,
      `${r.callsUp.start} / ${r.callsUp.end}`,
      `${r.sipp.failed} of ${r.sipp.created}`,
      String(r.rtp.streams),
      `${r.rtp.expected - r.rtp.received} / ${r.rtp.expected}`,
      fixed(r.rtp.jitterMs.max, 1),
      `${r.kernelDrops.ownSockets} / ${r.kernelDrops.inErrors} / ${r.kernelDrops.rcvbufErrors}`,
      String(r.captureDropped),
      `${fixed(r.otherCpu.sipp, 0)} / ${fixed(r.otherCpu.helper, 0)} / ${fixed(r.otherCpu.dumpcap, 0)} / ${fixed(r.otherCpu.machine, 0)}`,
      threadsText(r),
      ...(hosts ? [hostsText(r)] : []),
    ]),
  );
}
