// The load steps' results over --repeat rounds (each round runs every target once, in turn): what a row holds per
// round, and each figure across the rounds as the report shows it, the median with its min-max range.
import type { FloorResult } from './floor-step.js';
import { callsTaken, type LoadResult } from './load-step.js';
import { fixed } from './markdown.js';

/** One round at one N: each target once. A step that failed is missing from its round. */
export interface LoadRound {
  /** The bridge, once per `media.workers` value of the run (once, with its default, without --workers). */
  readonly bridges: readonly LoadResult[];
  readonly rtpengine?: LoadResult;
  /** The bridge again, speaking Twilio Media Streams to its bots (`--protocol twilio`), per workers value. */
  readonly twilio: readonly LoadResult[];
  readonly floor?: FloorResult;
}

export interface LoadRow {
  readonly calls: number;
  /** One per --repeat round, in the order they ran. */
  readonly rounds: readonly LoadRound[];
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

/**
 * The median (the mean of the middle two for an even count) and the range. NaN, a figure with nothing measured
 * behind it (no packet captured), sorts above every number: it is the worst a round can do.
 */
export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => Number(Number.isNaN(a)) - Number(Number.isNaN(b)) || a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, count: sorted.length };
}

export const median = (values: readonly number[]): number | undefined => spread(values)?.median;

/** `median` for one value, `median (min-max)` for more, n/a for none; the unit follows the median. */
export function spreadText(values: readonly number[], format: (value: number) => string, unit = ''): string {
  const s = spread(values);
  if (!s) return 'n/a';
  const text = `${format(s.median)}${unit}`;
  return s.count > 1 ? `${text} (${format(s.min)}-${format(s.max)})` : text;
}

export const figureText = (values: readonly number[], digits: number, unit = ''): string => spreadText(values, (value) => fixed(value, digits), unit);

/** `a / b` of two figures, n/a when the first was not measured. */
export function pairText(a: readonly number[], b: readonly number[], digits: number): string {
  const first = median(a);
  return first === undefined || Number.isNaN(first) ? 'n/a' : `${figureText(a, digits)} / ${figureText(b, digits)}`;
}

/** CPU per call, % of one core. */
export const perCall = (r: LoadResult) => r.cpuPercent / callsTaken(r);
export const floorPerCall = (floor: FloorResult) => floor.cpuPercent / floor.calls;

export const bridgeIn = (round: LoadRound, workers: number | undefined) => round.bridges.find((r) => r.workers === workers);

/** The workers values of a row's results (its bridges by default), in the order they ran. */
export function workersOf(row: LoadRow, results: (round: LoadRound) => readonly LoadResult[] = (round) => round.bridges): Array<number | undefined> {
  const values: Array<number | undefined> = [];
  for (const round of row.rounds) for (const r of results(round)) if (!values.includes(r.workers)) values.push(r.workers);
  return values;
}

/** A figure of each round, where that round has it. */
export function perRound(row: LoadRow, figure: (round: LoadRound) => number | undefined): number[] {
  return row.rounds.flatMap((round) => {
    const value = figure(round);
    return value === undefined ? [] : [value];
  });
}

/**
 * A figure of one result per round (`pick` finds it in the round), where that round has it. A figure that compares
 * it with another target takes that target from the same round: ratios are the median of per-round ratios, each of
 * two steps run minutes apart rather than of the whole run's.
 */
export function resultFigures(row: LoadRow, pick: (round: LoadRound) => LoadResult | undefined, figure: (r: LoadResult, round: LoadRound) => number | undefined): number[] {
  return perRound(row, (round) => {
    const r = pick(round);
    return r && figure(r, round);
  });
}

export const bridgeFigures = (row: LoadRow, workers: number | undefined, figure: (r: LoadResult, round: LoadRound) => number | undefined) =>
  resultFigures(row, (round) => bridgeIn(round, workers), figure);

/** The median loss % the callers saw from the bridge with `workers` (NaN: nothing captured); undefined: not run. */
export const bridgeLoss = (row: LoadRow, workers: number | undefined) => median(bridgeFigures(row, workers, (r) => r.rtp.lossPercent));

/** `median of N: ` to open the figures of a target judged on medians, when the run repeats its load steps. */
export const medianOf = (repeat: number) => (repeat > 1 ? `median of ${repeat}: ` : '');
