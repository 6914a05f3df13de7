// A media worker's entry (worker_threads): hosts legs in this thread with its own 20 ms clock and RTP ports, serves
// the main thread's messages, and reports its load and observations once a second.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { createLocalHost } from './local-host.js';
import { ObserverBatch } from './observer-batch.js';
import { LegOpenError, type StreamLeg } from './types.js';
import type { FromWorker, LegEvent, ToWorker, WorkerData } from './worker-messages.js';

const STATS_INTERVAL_MS = 1000;

const port = parentPort!;
const { index, settings } = workerData as WorkerData;
const log = pino({ level: settings.logLevel, base: { service: 'sip-ws-bridge', worker: index } }, pino.destination(1));
const observed = new ObserverBatch();
// The local host runs its own 20 ms clock, this thread's.
const host = createLocalHost(settings, observed, log, { name: `worker-${index}` });
/** Legs by the main thread's id: opening ones (their abort) and open ones. */
const opening = new Map<number, AbortController>();
const legs = new Map<number, StreamLeg>();

const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function postStats(): void {
  const load = host.load()[0]!;
  const live: Array<[number, NonNullable<StreamLeg['live']>]> = [];
  for (const [id, leg] of legs) if (leg.live) live.push([id, leg.live]);
  const { batch, transfer } = observed.take();
  const { name: _name, up: _up, ...rest } = load;
  post({ type: 'stats', load: rest, live, observed: batch }, transfer);
}

async function open(id: number, spec: Extract<ToWorker, { type: 'open' }>['spec']): Promise<void> {
  const abort = new AbortController();
  opening.set(id, abort);
  try {
    const leg = await host.open(spec, abort.signal);
    legs.set(id, leg);
    const forward = (event: LegEvent) => post({ type: 'event', id, event });
    leg.on('callerDtmf', (...args) => forward({ name: 'callerDtmf', args }));
    leg.on('draining', () => forward({ name: 'draining', args: [] }));
    leg.on('end', (...args) => forward({ name: 'end', args }));
    leg.on('botMessage', (...args) => forward({ name: 'botMessage', args }));
    leg.on('peerEnd', (...args) => forward({ name: 'peerEnd', args }));
    leg.on('peerDtmf', (...args) => forward({ name: 'peerDtmf', args }));
    post({ type: 'opened', id, port: leg.port, botConnectMs: leg.botConnectMs });
  } catch (err) {
    const kind = err instanceof LegOpenError ? err.kind : 'host';
    post({ type: 'openFailed', id, kind, message: (err as Error).message });
  } finally {
    opening.delete(id);
  }
}

async function close(id: number, reason: Extract<ToWorker, { type: 'close' }>['reason']): Promise<void> {
  const leg = legs.get(id);
  if (!leg) return;
  const report = await leg.close(reason);
  legs.delete(id);
  post({ type: 'closed', id, report });
}

/** A bridge transfer's agent port on the leg's host, or why not (the leg may have closed meanwhile). */
async function openPeer(id: number, leg: StreamLeg | undefined): Promise<void> {
  try {
    if (!leg) throw new Error('the leg is closed');
    post({ type: 'peerOpened', id, port: await leg.openPeer() });
  } catch (err) {
    post({ type: 'peerOpenFailed', id, message: (err as Error).message });
  }
}

async function shutdown(): Promise<void> {
  clearInterval(stats);
  await host.close();
  postStats();
  post({ type: 'shutDown' });
  port.close();
}

function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

/** A message for a leg this worker no longer has (it ended meanwhile) is dropped: the main thread learns of the end. */
function serve(message: ToWorker): void {
  if (message.type === 'shutdown') return void shutdown();
  if (message.type === 'stall') return stall(message.ms);
  if (message.type === 'open') return void open(message.id, message.spec);
  if (message.type === 'abort') return opening.get(message.id)?.abort();
  if (message.type === 'close') return void close(message.id, message.reason);
  const leg = legs.get(message.id);
  if (message.type === 'openPeer') return void openPeer(message.id, leg);
  if (!leg) return;
  if (message.type === 'joinPeer') leg.joinPeer(message.format, message.bot);
  else if (message.type === 'closePeer') leg.closePeer();
  else if (message.type === 'renegotiatePeer') leg.renegotiatePeer(message.format);
  else if (message.type === 'peerSipDtmf') leg.peerSipDtmf(message.digit, message.durationMs);
  else if (message.type === 'start') leg.start(message.format, message.start);
  else if (message.type === 'renegotiate') leg.renegotiate(message.format);
  else if (message.type === 'callerDtmf') leg.callerDtmf(message.digit, message.durationMs);
  else leg.sendEvent(message.name, message.fields);
}

port.on('message', serve);
const stats = setInterval(postStats, STATS_INTERVAL_MS);
stats.unref();
