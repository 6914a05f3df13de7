// Runs SIPp as the carrier (UAC over UDP) and reads its call counts from its -trace_stat file at the end.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, freeUdpPort } from './ports.js';
import { start, within, type Started } from './processes.js';

export interface SippLoad {
  readonly scenarioXml: string;
  readonly target: { readonly host: string; readonly port: number };
  /** Calls to place, at most `concurrent` at once, `rate` new calls per second. */
  readonly calls: number;
  readonly concurrent: number;
  readonly rate: number;
  /** SIPp's -d: the length of the scenario's <pause/>. */
  readonly pauseMs?: number;
  readonly mediaPort: number;
  /** Where SIPp's files go. */
  readonly dir: string;
  /** SIPp is stopped (and the run fails) past this. */
  readonly timeoutMs: number;
  /** Where SIPp writes the scenario's <log> actions (-trace_logs), when it has any. */
  readonly logFile?: string;
}

export interface SippOutcome {
  readonly created: number;
  readonly successful: number;
  readonly failed: number;
  /** New calls per second while SIPp was creating them. */
  readonly creationRate: number;
  /** Mean INVITE -> 200 time, in ms. */
  readonly setupMs: number;
  /** SIPp's error log (unexpected messages, retransmissions, ...), counted by the kind of event. */
  readonly errors: Map<string, number>;
}

export interface RunningSipp {
  readonly process: Started;
  readonly done: Promise<SippOutcome>;
}

export async function startSipp(load: SippLoad): Promise<RunningSipp> {
  const scenarioFile = join(load.dir, 'scenario.xml');
  const statFile = join(load.dir, 'stat.csv');
  const errorFile = join(load.dir, 'errors.log');
  writeFileSync(scenarioFile, load.scenarioXml);
  const args = [
    `${load.target.host}:${load.target.port}`,
    '-sf', scenarioFile,
    '-t', 'u1',
    '-i', HOST,
    '-p', String(await freeUdpPort()),
    '-mi', HOST,
    '-mp', String(load.mediaPort),
    '-m', String(load.calls),
    '-l', String(load.concurrent),
    '-r', String(load.rate),
    ...(load.pauseMs !== undefined ? ['-d', String(load.pauseMs)] : []),
    '-recv_timeout', '10000',
    '-timeout', `${Math.ceil(load.timeoutMs / 1000)}s`,
    '-nostdin',
    '-trace_stat', '-stf', statFile, '-fd', '1',
    '-trace_err', '-error_file', errorFile,
    ...(load.logFile ? ['-trace_logs', '-log_file', load.logFile] : []),
  ];
  const sipp = start('sipp', 'sipp', args, { cwd: load.dir });
  const done = within(load.timeoutMs + 10_000, 'SIPp', sipp.exited)
    .finally(() => sipp.stop('SIGKILL'))
    .then(({ code }) => outcome(code, statFile, errorFile, sipp.stderr()));
  return { process: sipp, done };
}

function outcome(exitCode: number | null, statFile: string, errorFile: string, stderr: string): SippOutcome {
  const rows = readStat(statFile);
  const last = rows.at(-1);
  if (!last) throw new Error(`SIPp wrote no statistics (exit ${exitCode}): ${stderr}`);
  const created = Number(last.get('OutgoingCall(C)'));
  let errors = new Map<string, number>();
  try {
    errors = countErrors(readFileSync(errorFile, 'utf8'));
  } catch {
    // no error file: no errors
  }
  return {
    created,
    successful: Number(last.get('SuccessfulCall(C)')),
    failed: Number(last.get('FailedCall(C)')),
    creationRate: creationRate(rows, created),
    setupMs: durationMs(last.get('ResponseTime1(C)') ?? ''),
    errors,
  };
}

/**
 * Calls created per second between the first statistics row and the last one before all calls were created: the
 * rows come once a second, so the run's total time would be up to a second off.
 */
function creationRate(rows: Array<Map<string, string>>, created: number): number {
  const at = (row: Map<string, string>) => Number(row.get('CurrentTime')?.split('\t').at(-1));
  const count = (row: Map<string, string>) => Number(row.get('OutgoingCall(C)'));
  const lastPartial = rows.findIndex((row) => count(row) >= created) - 1;
  const first = rows[0]!;
  const end = lastPartial > 0 ? rows[lastPartial]! : rows.at(-1)!;
  const seconds = at(end) - Number(first.get('StartTime')?.split('\t').at(-1));
  return seconds > 0 ? count(end) / seconds : Number.NaN;
}

/**
 * SIPp's error log: events, each starting "<date>\t<time>\t<epoch>: " (some are not ended by a newline). Events of
 * one kind differ in their Call-ID (an id@address) and long numbers, so those are blanked out before counting.
 */
function countErrors(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of text.split(/\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: /).slice(1)) {
    const kind = event.trim().split('\n')[0]!.replace(/'?[^\s']+@[^\s']+'?/g, '…').replace(/\d{4,}/g, 'N').slice(0, 160);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** SIPp's -trace_stat CSV: a header row of names, then one row per period (cumulative columns end in (C)). */
function readStat(file: string): Array<Map<string, string>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const [header, ...lines] = text.split('\n').filter((line) => line.includes(';'));
  if (!header) return [];
  const names = header.split(';');
  return lines.map((line) => new Map(line.split(';').map((value, i) => [names[i] ?? '', value])));
}

/** SIPp's "HH:MM:SS:uuuuuu" (response times) or "HH:MM:SS" (elapsed), in ms. */
function durationMs(text: string): number {
  const [h = 0, m = 0, s = 0, us = 0] = text.split(':').map(Number);
  return (h * 3600 + m * 60 + s) * 1000 + us / 1000;
}
