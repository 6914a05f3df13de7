// Test-call CLI: dials the bridge as the carrier does, plays a WAV as the caller, records the bot, prints the SIP ladder.
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseCliArgs, USAGE, type CliOptions } from './args.js';
import type { CallOutcome } from './call-types.js';
import { placeTestCall } from './caller.js';
import { ladderLine, messageText, summaryLines } from './report.js';
import { readWav, toCarrierAudio, writeWav } from './wav.js';

const EXIT_CODES: Readonly<Record<CallOutcome, number>> = { completed: 0, refused: 1, failed: 1, interrupted: 130 };
const EXIT_USAGE = 2;

function readPlayFile(path: string): Int16Array | string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return `cannot read --play ${path}: ${(err as Error).message}`;
  }
  const wav = readWav(bytes);
  return wav.ok ? toCarrierAudio(wav.value) : `--play ${path}: ${wav.reason}`;
}

async function call(options: CliOptions): Promise<number> {
  const audio = readPlayFile(options.play);
  if (typeof audio === 'string') {
    process.stderr.write(`${audio}\n`);
    return EXIT_USAGE;
  }
  if (options.record !== undefined) {
    // Found out now rather than after the call, when its recording would be lost.
    try {
      accessSync(dirname(options.record), constants.W_OK);
    } catch (err) {
      process.stderr.write(`cannot write --record ${options.record}: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
  }

  const hangUp = new AbortController();
  process.on('SIGINT', () => {
    if (hangUp.signal.aborted) process.exit(EXIT_CODES.interrupted);
    hangUp.abort();
    process.stderr.write('hanging up (Ctrl-C again to quit at once)\n');
  });
  const { target } = options;
  const seconds = (audio.length / 8000).toFixed(2);
  console.log(`calling ${target.uri} over ${target.transport.toUpperCase()} from ${options.from}, playing ${options.play} (${seconds} s)`);
  const result = await placeTestCall({
    target,
    from: options.from,
    localAddress: options.localIp,
    headers: options.headers,
    audio,
    holdMs: options.holdMs,
    dtmf: options.dtmf,
    dtmfAtMs: options.dtmfAtMs,
    signal: hangUp.signal,
    onLadder: (entry) => {
      console.log(ladderLine(entry));
      if (options.verbose) console.log(messageText(entry));
    },
  });
  let code = EXIT_CODES[result.outcome];
  let recorded = options.record;
  if (recorded !== undefined && result.media) {
    try {
      writeFileSync(recorded, writeWav({ sampleRate: 8000, channels: 1, samples: result.media.recording }));
    } catch (err) {
      process.stderr.write(`cannot write --record ${recorded}: ${(err as Error).message}\n`);
      recorded = undefined;
      code = 1;
    }
  }
  console.log('');
  for (const line of summaryLines(result, recorded)) console.log(line);
  return code;
}

function main(): Promise<number> {
  const args = parseCliArgs(process.argv.slice(2));
  if (!args.ok) {
    process.stderr.write(`${args.reason}\n\n${USAGE}\n`);
    return Promise.resolve(EXIT_USAGE);
  }
  if (args.value === 'help') {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  return call(args.value);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`test call failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
