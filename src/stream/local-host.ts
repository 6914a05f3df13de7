// Runs legs in this thread (`media.workers: 0`, the tests, and inside each media worker): its own RTP port range,
// 20 ms clock and bot address policy, all from the host settings. Its load's heap is this thread's isolate's.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import { addressList, BotAddressPolicy, BotConnectError, type BotSession } from '../bot/index.js';
import { FRAME_MS, FrameClock, RtpPortPool, type BoundRtpSocket } from '../media/index.js';
import { connectBot } from './bot-link.js';
import { LocalLeg, type LegContext } from './local-leg.js';
import { LegOpenError, type HostLoad, type HostSettings, type LegObserver, type LegSpec, type LiveMedia, type MediaHost, type StreamLeg } from './types.js';

export function createLocalHost(settings: HostSettings, observer: LegObserver, log: Logger, options: { name?: string; clock?: FrameClock } = {}): MediaHost {
  const name = options.name ?? 'in-process';
  const pool = new RtpPortPool(settings.address, settings.rtpPorts.min, settings.rtpPorts.max);
  const legs = new Set<LocalLeg>();
  let lastSkipLog = 0;
  const clock =
    options.clock ??
    new FrameClock(FRAME_MS, (frames) => {
      // Once a second at most: an overloaded process would otherwise log on every tick.
      if (Date.now() - lastSkipLog < 1000) return;
      lastSkipLog = Date.now();
      log.warn({ host: name, skippedFrames: frames, legs: legs.size }, 'event loop fell behind the 20 ms clock: frames skipped (overloaded?)');
    });
  const allowed = addressList(settings.bot.allowedNetworks);
  const policy = new BotAddressPolicy((address) => allowed.has(address));
  /** Packets of the legs that have closed. */
  const ended = { in: 0, out: 0, lost: 0 };
  const context: Omit<LegContext, 'log'> = {
    settings,
    pool,
    clock,
    policy,
    observer,
    closed(leg, packets) {
      legs.delete(leg);
      if (!packets) return;
      ended.in += packets.in;
      ended.out += packets.out;
      ended.lost += packets.lost;
    },
  };

  const release = (rtp: BoundRtpSocket) => {
    rtp.socket.close();
    pool.release(rtp.port);
  };

  async function open(spec: LegSpec, signal: AbortSignal): Promise<StreamLeg> {
    const aborted = () => new LegOpenError('aborted', 'the call ended while its stream was being opened');
    if (signal.aborted) throw aborted();
    let rtp: BoundRtpSocket;
    try {
      rtp = await pool.bind();
    } catch (err) {
      throw new LegOpenError('ports', (err as Error).message);
    }
    if (signal.aborted) {
      release(rtp);
      throw aborted();
    }
    const legLog = log.child(spec.log);
    let bot: BotSession;
    const connecting = performance.now();
    try {
      bot = await connectBot(settings.bot, spec.bot, policy, legLog, signal);
    } catch (err) {
      release(rtp);
      if (signal.aborted) throw aborted();
      throw new LegOpenError('bot', err instanceof BotConnectError ? `bot unreachable: ${err.message}` : String(err));
    }
    if (signal.aborted) {
      bot.close();
      release(rtp);
      throw aborted();
    }
    const botConnectMs = performance.now() - connecting;
    observer.botConnected(botConnectMs);
    if (spec.bot.announce) bot.announce();
    const leg = new LocalLeg(spec, rtp, bot, botConnectMs, { ...context, log: legLog });
    legs.add(leg);
    return leg;
  }

  function load(): HostLoad {
    const packets = { ...ended };
    let queuedMs = 0;
    let maxQueuedMs = 0;
    for (const leg of legs) {
      const live: LiveMedia | undefined = leg.live;
      if (!live) continue;
      packets.in += live.packets.in;
      packets.out += live.packets.out;
      packets.lost += live.packets.lost;
      queuedMs += live.queuedMs;
      maxQueuedMs = Math.max(maxQueuedMs, live.queuedMs);
    }
    return { name, legs: legs.size, clockLagMs: clock.lagMs, busy: clock.busy, rtpPortsInUse: pool.inUse, packets, queuedMs, maxQueuedMs, heapUsedBytes: getHeapStatistics().used_heap_size, up: true };
  }

  return {
    open,
    load: () => [load()],
    // The clock stops by itself with its last listener (the last leg's media session); sockets go with their legs.
    close: () => Promise.resolve(),
  };
}
