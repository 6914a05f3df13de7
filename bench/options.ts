// The bench's options, from the command line (`npm run bench -- --calls 50,200`) or the environment (BENCH_CALLS=...);
// the command line wins.
import { parseArgs } from 'node:util';
import { MAX_CALLS } from './ports.js';
import type { CallerRtp } from './sipp-scenarios.js';

export const STEPS = ['load', 'rtpengine', 'floor', 'setup-rate', 'outbound', 'ramp'] as const;
/** What runs when --steps is not given: the ramp only when asked for. */
const DEFAULT_STEPS = STEPS.filter((step) => step !== 'ramp');
export type Step = (typeof STEPS)[number];

export interface BenchOptions {
  readonly steps: ReadonlySet<Step>;
  readonly calls: readonly number[];
  readonly durationSeconds: number;
  readonly rampRate: number;
  readonly rates: readonly number[];
  readonly secondsPerRate: number;
  /** Outbound setups per second offered through POST /v1/calls, one after another, each for outboundSeconds. */
  readonly outboundRates: readonly number[];
  readonly outboundSeconds: number;
  readonly callerRtp: CallerRtp;
  /** `twilio`: each load step runs a second time with the bridge speaking Twilio Media Streams to its bots. */
  readonly protocol: 'exotel' | 'twilio';
  /** The bridge's bot.chunkMs (AgentStream media message length); undefined: its default (100 ms). */
  readonly chunkMs?: number;
  /** Whether the results replace those in docs/benchmarks.md. */
  readonly writeDocs: boolean;
  readonly quick: boolean;
  /**
   * `media.workers` values: the load, setup-rate, outbound and ramp steps run once for each, on the same load.
   * Undefined: the bridge's own default (the key is not written into its config).
   */
  readonly workers?: readonly number[];
  /** Calls the ramp step holds open at most (--ramp-calls; by default the largest of --calls). */
  readonly rampCalls: number;
  /** The ramp's reference capacity; without it, the highest --calls step without loss for the same workers value. */
  readonly capacity?: number;
  /** Every N of --calls runs even after a step lost frames (for comparisons on a busy machine). */
  readonly keepStepping: boolean;
  /**
   * Rounds of each N's load steps (the bridge per workers value, rtpengine, the floor): all once, then all again, so
   * that the machine's drift spreads over all; the report gives medians with their range, the targets medians.
   */
  readonly repeat: number;
}

const QUICK = { calls: '50,200', duration: '10', rates: '100,300', 'rate-duration': '5', 'outbound-rates': '100,300', 'outbound-duration': '3' };
const DEFAULTS = { steps: DEFAULT_STEPS.join(','), calls: '50,200,500,1000', duration: '20', ramp: '100', rates: '100,200,300,400,600,800,1000', 'rate-duration': '10', 'caller-rtp': 'stream', 'outbound-rates': '50,100,200,300,400', 'outbound-duration': '5', protocol: 'exotel', repeat: '1' };

export const USAGE = `npm run bench -- [options]   (each option can also be given as the environment variable shown)
  --steps LIST        BENCH_STEPS          runs among load, rtpengine, floor, setup-rate, outbound, ramp
                                           (default: all but ramp)
  --calls LIST        BENCH_CALLS          concurrent calls per load step (default ${DEFAULTS.calls});
                                           stepping stops after the first step whose callers lose frames
  --duration S        BENCH_DURATION       seconds measured while all calls are up (default ${DEFAULTS.duration})
  --ramp R            BENCH_RAMP           new calls per second while the calls ramp up (default ${DEFAULTS.ramp})
  --rates LIST        BENCH_RATES          setup rates tried, calls/s (default ${DEFAULTS.rates})
  --rate-duration S   BENCH_RATE_DURATION  seconds each setup rate is offered (default ${DEFAULTS['rate-duration']})
  --outbound-rates LIST      BENCH_OUTBOUND_RATES     outbound setups/s offered through the API (default ${DEFAULTS['outbound-rates']})
  --outbound-duration S     BENCH_OUTBOUND_DURATION  seconds each outbound rate is offered (default ${DEFAULTS['outbound-duration']})
  --caller-rtp MODE   BENCH_CALLER_RTP     stream (SIPp rtp_stream, default) or pcap (play_pcap_audio); see docs
  --protocol P        BENCH_PROTOCOL       exotel (default), or twilio: each load step also runs with Twilio Media Streams bots
  --chunk-ms MS       BENCH_CHUNK_MS       the bridge's bot.chunkMs (20-100; default the bridge's, 100): 20 sends AgentStream
                                           bots a message per 20 ms as Twilio's protocol always does
  --workers LIST      BENCH_WORKERS        media.workers values (0 = in-process, N = N worker threads): the load,
                                           setup-rate, outbound and ramp steps run once per value, side by side
                                           (default: none, the bridge's own default)
  --ramp-calls N      BENCH_RAMP_CALLS     ramp step: calls placed at --ramp calls/s and held open (default: the
                                           largest of --calls)
  --capacity N        BENCH_CAPACITY       ramp step: the capacity its first 503 is held against (default: the
                                           highest --calls step without loss, per workers value)
  --keep-stepping     BENCH_KEEP_STEPPING=1  run every N of --calls even after a step lost frames
  --repeat R          BENCH_REPEAT         at each N of --calls, every load step (bridge per workers value, rtpengine,
                                           floor) R times, in turn: all once, then all again; the report shows each
                                           figure's median and min-max range, targets are judged on the medians, and
                                           stepping stops on a median loss (default ${DEFAULTS.repeat})
  --quick             BENCH_QUICK=1        calls ${QUICK.calls} for ${QUICK.duration} s, rates ${QUICK.rates} for ${QUICK['rate-duration']} s; docs/ not written
  --no-docs, --docs                        do not / do replace the results in docs/benchmarks.md`;

export function readOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      steps: { type: 'string' },
      calls: { type: 'string' },
      duration: { type: 'string' },
      ramp: { type: 'string' },
      rates: { type: 'string' },
      'rate-duration': { type: 'string' },
      'caller-rtp': { type: 'string' },
      'outbound-rates': { type: 'string' },
      'outbound-duration': { type: 'string' },
      protocol: { type: 'string' },
      'chunk-ms': { type: 'string' },
      workers: { type: 'string' },
      'ramp-calls': { type: 'string' },
      capacity: { type: 'string' },
      quick: { type: 'boolean' },
      'keep-stepping': { type: 'boolean' },
      repeat: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? env.BENCH_QUICK === '1';
  const pick = (name: keyof typeof DEFAULTS): string => {
    const envName = `BENCH_${name.toUpperCase().replaceAll('-', '_')}`;
    return values[name] ?? env[envName] ?? (quick ? (QUICK as Record<string, string>)[name] : undefined) ?? DEFAULTS[name];
  };

  const steps = list(pick('steps'), 'steps', (s) => s).map((step) => {
    if (!(STEPS as readonly string[]).includes(step)) throw new Error(`unknown step "${step}": one of ${STEPS.join(', ')}`);
    return step as Step;
  });
  const calls = list(pick('calls'), 'calls', Number);
  for (const n of calls) if (!Number.isInteger(n) || n < 1 || n > MAX_CALLS) throw new Error(`calls: ${n} is not a whole number from 1 to ${MAX_CALLS}`);
  const callerRtp = pick('caller-rtp');
  if (callerRtp !== 'pcap' && callerRtp !== 'stream') throw new Error(`caller-rtp: "${callerRtp}" is neither pcap nor stream`);
  const optional = (name: 'workers' | 'ramp-calls' | 'capacity' | 'chunk-ms'): string | undefined => values[name] ?? env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const workersText = optional('workers');
  const workers = workersText === undefined ? undefined : list(workersText, 'workers', Number);
  for (const n of workers ?? []) if (!Number.isInteger(n) || n < 0) throw new Error(`workers: ${n} is not a whole number of 0 or more`);
  const rampCallsText = optional('ramp-calls');
  const rampCalls = rampCallsText === undefined ? Math.max(...calls) : positive(rampCallsText, 'ramp-calls');
  if (!Number.isInteger(rampCalls) || rampCalls > MAX_CALLS) throw new Error(`ramp-calls: ${rampCalls} is not a whole number from 1 to ${MAX_CALLS}`);
  const capacityText = optional('capacity');
  const chunkText = optional('chunk-ms');
  const chunkMs = chunkText === undefined ? undefined : Number(chunkText);
  if (chunkMs !== undefined && ![20, 40, 60, 80, 100].includes(chunkMs)) throw new Error(`chunk-ms: ${chunkText} is not 20, 40, 60, 80 or 100`);
  const repeat = Number(pick('repeat'));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`repeat: "${pick('repeat')}" is not a whole number of 1 or more`);
  const protocol = pick('protocol');
  if (protocol !== 'exotel' && protocol !== 'twilio') throw new Error(`protocol: "${protocol}" is neither exotel nor twilio`);
  return {
    steps: new Set(steps),
    calls,
    durationSeconds: positive(pick('duration'), 'duration'),
    rampRate: positive(pick('ramp'), 'ramp'),
    rates: list(pick('rates'), 'rates', (text) => positive(text, 'rates')),
    secondsPerRate: positive(pick('rate-duration'), 'rate-duration'),
    outboundRates: list(pick('outbound-rates'), 'outbound-rates', (text) => positive(text, 'outbound-rates')),
    outboundSeconds: positive(pick('outbound-duration'), 'outbound-duration'),
    callerRtp,
    protocol,
    ...(chunkMs !== undefined && { chunkMs }),
    writeDocs: values['no-docs'] ? false : (values.docs ?? !quick),
    quick,
    ...(workers && { workers: [...new Set(workers)] }),
    rampCalls,
    keepStepping: values['keep-stepping'] ?? env.BENCH_KEEP_STEPPING === '1',
    repeat,
    ...(capacityText !== undefined && { capacity: positive(capacityText, 'capacity') }),
  };
}

function list<T>(text: string, name: string, parse: (item: string) => T): T[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`${name}: empty list`);
  return items.map(parse);
}

function positive(text: string, name: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new Error(`${name}: "${text}" is not a positive number`);
  return value;
}
