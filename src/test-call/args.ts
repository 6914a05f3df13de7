// The test call's command line, read into options or the reason it cannot be.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { isDtmfDigit, type DtmfDigit } from '../media/dtmf.js';
import type { Parsed } from '../signaling/parser.js';
import { parseCallTarget, type CallTarget } from './target.js';

export interface CliOptions {
  readonly target: CallTarget;
  /** WAV file played as the caller. */
  readonly play: string;
  /** WAV file the bridge's audio is written to. */
  readonly record?: string;
  readonly dtmf: readonly DtmfDigit[];
  readonly dtmfAtMs: number;
  readonly holdMs: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly localIp: string;
  readonly from: string;
  readonly verbose: boolean;
}

export const USAGE = `npm run call -- --to URI --play FILE [options]
  --to URI            the bridge: sip:NUMBER@HOST:PORT, over TCP; add ;transport=udp for UDP
  --play FILE         WAV played as the caller: PCM16 mono/stereo at 8-192 kHz, or G.711 A-law/µ-law at 8 kHz;
                      test/audio/hello.wav is a 3 s sample
  --record FILE       writes what the bridge sends (the bot's audio) as an 8 kHz PCM16 mono WAV
  --dtmf DIGITS       presses these keys (0-9 * # A-D) as RFC 4733 events, 250 ms apart
  --dtmf-at MS        when the first key is pressed, from the answer (default 1000)
  --header NAME=VALUE adds a header to the INVITE, e.g. X-Customer-Header=salesbot; repeatable
  --hold MS           silence sent after the audio before hanging up (default 1000)
  --from NUMBER       the calling number (default +918888888888)
  --local-ip IP       address for our SIP, SDP and RTP (default 127.0.0.1)
  --verbose, -v       prints every SIP message in full
  --help, -h          prints this`;

const HEADER_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMBER = /^[A-Za-z0-9+._-]+$/;

const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

function milliseconds(text: string, name: string): Parsed<number> {
  return /^\d{1,7}$/.test(text) ? { ok: true, value: Number(text) } : fail(`--${name} "${text}" is not a whole number of ms`);
}

export function parseCliArgs(argv: readonly string[]): Parsed<CliOptions | 'help'> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        to: { type: 'string' },
        play: { type: 'string' },
        record: { type: 'string' },
        dtmf: { type: 'string', default: '' },
        'dtmf-at': { type: 'string', default: '1000' },
        header: { type: 'string', multiple: true, default: [] },
        hold: { type: 'string', default: '1000' },
        from: { type: 'string', default: '+918888888888' },
        'local-ip': { type: 'string', default: '127.0.0.1' },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help) return { ok: true, value: 'help' };
  if (values.to === undefined) return fail('--to is required');
  if (values.play === undefined) return fail('--play is required');
  const target = parseCallTarget(values.to);
  if (!target.ok) return fail(`--to: ${target.reason}`);
  const dtmf = [...values.dtmf.toUpperCase()];
  const bad = dtmf.find((key) => !isDtmfDigit(key));
  if (bad !== undefined) return fail(`--dtmf: "${bad}" is not a key (0-9, *, #, A-D)`);
  const dtmfAt = milliseconds(values['dtmf-at'], 'dtmf-at');
  if (!dtmfAt.ok) return dtmfAt;
  const hold = milliseconds(values.hold, 'hold');
  if (!hold.ok) return hold;
  const headers: Array<readonly [string, string]> = [];
  for (const field of values.header) {
    const eq = field.indexOf('=');
    const name = field.slice(0, Math.max(0, eq)).trim();
    const value = field.slice(eq + 1).trim();
    if (eq < 0 || !HEADER_NAME.test(name)) return fail(`--header "${field}": expected NAME=VALUE with a name of letters, digits and "-"`);
    if (/[\r\n]/.test(value)) return fail(`--header ${name}: the value holds a line break`);
    headers.push([name, value]);
  }
  if (!NUMBER.test(values.from)) return fail(`--from "${values.from}" is not a number or user name`);
  if (net.isIP(values['local-ip']) === 0) return fail(`--local-ip "${values['local-ip']}" is not an IP address`);
  return {
    ok: true,
    value: {
      target: target.value,
      play: values.play,
      ...(values.record !== undefined && { record: values.record }),
      dtmf: dtmf as DtmfDigit[],
      dtmfAtMs: dtmfAt.value,
      holdMs: hold.value,
      headers,
      localIp: values['local-ip'],
      from: values.from,
      verbose: values.verbose,
    },
  };
}
