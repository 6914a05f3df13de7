// Composition root: builds the signaling backend, media resources, call manager and HTTP server from a config.
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { BotAddressPolicy } from './bot/index.js';
import { CallControl, CallManager, OutboundCall, RecordingUploader, WebhookSender, type CallOptions, type StreamPolicy, type Trunk } from './call/index.js';
import { parseTrunkUri, type BridgeConfig } from './config/index.js';
import { BridgeMetrics, CallApi, startHttpServer, trackHosts, type HttpServer, type LiveCalls } from './http/index.js';
import { RtpengineRelay, RtpengineWatch, watchEventLoop } from './media/index.js';
import { DrachtioBackend, EmbeddedSipBackend, type SipBackend, type SipStats } from './signaling/index.js';
import { createMediaHost, type HostLoad, type HostSettings, type MediaHost } from './stream/index.js';

export interface BridgeStats {
  readonly activeCalls: number;
  /** Summed over the media hosts. */
  readonly rtpPortsInUse: number;
  /** Stream legs open on the media hosts (each started one listens to its host's clock). */
  readonly clockListeners: number;
  /** How late the media clocks fire, 90th percentile over the last 2 s (ms), the latest host's: see limits.maxClockLagMs. */
  readonly clockLagMs: number;
  /** The event loops' utilisation over the last 0.5-1 s, 0-1, the busiest host's: see limits.maxEventLoopUtilization. */
  readonly eventLoopUtilization: number;
  /** Each media host's load (one entry in-process, one per media worker). */
  readonly media: readonly HostLoad[];
  readonly sip: SipStats;
}

export interface Bridge {
  /** Bound addresses (ports resolved when configured as 0). */
  readonly sip: SipBackend['listening'];
  readonly httpPort: number;
  /** Where the calls' media runs: this thread, or the media workers (tests stop one through it). */
  readonly media: MediaHost;
  stats(): BridgeStats;
  /** Reads the TLS certificate, key and CA files again; new TLS connections use them, open ones go on. */
  reloadTls(): void;
  /**
   * Stops taking calls (503; with drachtio, new calls go to the other bridges connected to it), lets calls in
   * progress end on their own for up to `drainTimeoutMs`, ends the rest with BYE, then closes every listener; once,
   * however often it is called.
   */
  stop(drainTimeoutMs?: number): Promise<void>;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${key} ${path}: ${(err as Error).message}`);
  }
}

/** The TLS files named in the config, read now (at start and on SIGHUP). */
function tlsMaterial(tls: NonNullable<BridgeConfig['sip']['tls']>): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return {
    cert: readPem(tls.cert, 'sip.tls.cert'),
    key: readPem(tls.key, 'sip.tls.key'),
    ...(tls.ca && { ca: readPem(tls.ca, 'sip.tls.ca') }),
  };
}

function sipBackend(config: BridgeConfig, log: Logger): SipBackend {
  const { sip } = config;
  const allowSource = (address: string) => sip.allowedSources.has(address);
  if (sip.backend === 'drachtio') return new DrachtioBackend({ ...sip.drachtio, allowSource, log: log.child({ layer: 'drachtio' }) });
  return new EmbeddedSipBackend({
    ...(sip.udp && { udp: sip.udp }),
    ...(sip.tcp && { tcp: sip.tcp }),
    ...(sip.tls && { tls: { host: sip.tls.host, port: sip.tls.port, ...tlsMaterial(sip.tls) } }),
    ...(sip.advertisedAddress && { advertisedHost: sip.advertisedAddress }),
    maxMessageBytes: sip.maxMessageBytes,
    timers: sip.timers,
    allowSource,
    refusedSources: sip.refusedSources,
    maxConnectionsPerSource: sip.maxConnectionsPerSource,
    messageTimeoutMs: sip.messageTimeoutMs,
    log: log.child({ layer: 'sip' }),
  });
}

/** A route's own mode and recording (`recording: false` turns the global one off); the global recording otherwise. */
export function streamPolicies(config: Pick<BridgeConfig, 'routes' | 'recording'>): (routeIndex: number | undefined) => StreamPolicy {
  return (routeIndex) => {
    const route = routeIndex === undefined ? undefined : config.routes[routeIndex];
    const recording = route?.recording === false ? undefined : (route?.recording ?? config.recording);
    return { listenOnly: route?.mode === 'listen', ...(recording && { recording }) };
  };
}

/** Says at start, not at the first call, when a recording directory cannot be written; calls are taken anyway. */
function checkRecordingDirs(config: Pick<BridgeConfig, 'routes' | 'recording'>, log: Logger): void {
  const dirs = new Set([config.recording, ...config.routes.map((r) => r.recording)].flatMap((r) => (r ? [r.dir] : [])));
  for (const dir of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (err) {
      log.error({ dir, err: (err as Error).message }, 'recording directory not writable: those calls will go unrecorded');
    }
  }
}

export async function startBridge(config: BridgeConfig, log: Logger): Promise<Bridge> {
  const { media, bot } = config;
  const backend = sipBackend(config, log);
  const metrics = new BridgeMetrics();
  const host = createMediaHost({ workers: media.workers, settings: hostSettings(config), limits: config.limits, observer: metrics, log });
  const relay =
    media.relay === 'rtpengine'
      ? new RtpengineRelay({ ...media.rtpengine, log: log.child({ layer: 'rtpengine' }) })
      : undefined;
  const relayWatch = relay && new RtpengineWatch(relay, media.rtpengine.pingIntervalMs, log.child({ layer: 'rtpengine' }));
  /** Why the bridge cannot take calls now; empty when it can. */
  const outages = (): string[] => {
    const reasons: string[] = [];
    if (!backend.status.up) reasons.push(backend.status.reason);
    if (relayWatch && !relayWatch.status.up) reasons.push(relayWatch.status.reason);
    return reasons;
  };
  const routing = {
    routes: config.routes,
    ...(bot.defaultUrl && { defaultUrl: bot.defaultUrl }),
    ...(bot.urlHeader && { urlHeader: bot.urlHeader }),
    defaultSampleRate: bot.sampleRate,
    defaultProtocol: bot.protocol,
    defaultHeaders: bot.headers,
  };
  const streams = streamPolicies(config);
  checkRecordingDirs(config, log);
  const trunks = config.trunks.map(trunkOf);
  const callOptions: CallOptions = {
      log,
      observer: metrics,
      routing,
      streams,
      media: {
        host,
        advertisedAddress: media.advertisedAddress ?? media.address,
        ...(relay && { relay }),
      },
      bot: {
        connectRetries: bot.connectRetries,
        addressPolicy: new BotAddressPolicy((address) => bot.urlHeader?.allowedNetworks.has(address) ?? false),
      },
      headerLimits: config.limits,
      maxDurationMs: config.limits.maxCallDurationMs,
      transfers: {
        trunks: trunks.map((t) => t.trunk),
        allowedTargets: config.transfer.allowedTargets,
        // An agent leg holds a channel on its trunk like an outbound call (CallControl, made below, keeps the count).
        bridge: { backend, ringTimeoutMs: config.transfer.ringTimeoutMs, admit: (trunk) => control.trunkSlot(trunk) },
      },
  };
  // With the media in workers, this thread keeps SIP and the API: its own loop is watched for admission too.
  const signalingLoop = media.workers > 0 ? watchEventLoop() : undefined;
  const calls = new CallManager(backend, callOptions, config.limits, outages, signalingLoop?.busy);
  const control = new CallControl(calls, {
    trunks: trunks.map((t) => t.trunk),
    allowedTargets: config.transfer.allowedTargets,
    backend,
    call: callOptions,
    maxConcurrentCalls: config.limits.maxConcurrentCalls,
    headerLimits: config.limits,
    routing,
    outages,
  });

  metrics.track(() => ({ count: calls.activeCalls, ...hostTotals(host.load()) }));
  trackHosts(metrics.registry, () => host.load());
  metrics.trackBackends(() => ({ sip: backend.status.up, ...(relayWatch && { rtpengine: relayWatch.status.up }) }));
  backend.on('refused', ({ reason }) => metrics.sipRefused(reason));
  calls.on('refused', ({ status }) => metrics.setup(status));
  const webhooks = new WebhookSender({ ...config.webhook, log: log.child({ layer: 'webhook' }) }, (result) => metrics.webhook(result));
  const uploads = new RecordingUploader({ ...config.webhook, log: log.child({ layer: 'recording' }) }, (result) => metrics.recordingUpload(result));
  // The final status event is the post-call report with the call's record added.
  calls.on('ended', (report, call) => {
    metrics.callEnded(report);
    uploads.send(call.recordingSettings, report.call_sid, report.recording);
    const url = call.webhookUrl ?? config.webhook.url;
    const record = call.record();
    if (url) webhooks.send(url, { event: record.status, ...report, ...record });
  });
  control.on('placed', (call: OutboundCall) => {
    call.on('status', (record) => {
      const url = call.webhookUrl ?? config.webhook.url;
      if (url) webhooks.send(url, { event: record.status === 'in-progress' ? 'answered' : record.status, ...record });
    });
  });

  const stats = (): BridgeStats => {
    const loads = host.load();
    const totals = hostTotals(loads);
    return {
      activeCalls: calls.activeCalls,
      rtpPortsInUse: loads.reduce((n, h) => n + h.rtpPortsInUse, 0),
      clockListeners: loads.reduce((n, h) => n + h.legs, 0),
      clockLagMs: Math.round(totals.clockLagMs),
      eventLoopUtilization: Math.round(totals.eventLoopUtilization * 100) / 100,
      media: loads,
      sip: backend.stats(),
    };
  };
  const health = () => {
    const reasons = outages();
    const status = !calls.accepting ? 'draining' : reasons.length > 0 ? 'down' : 'ok';
    return { status, accepting: status === 'ok', reasons, ...stats() } as const;
  };
  let http: HttpServer;
  try {
    await backend.start();
    await relayWatch?.start();
    const api = new CallApi({ control, token: config.api.token, log: log.child({ layer: 'api' }) });
    http = await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, health, api });
  } catch (err) {
    relayWatch?.close();
    await backend.stop();
    relay?.close();
    signalingLoop?.stop();
    await host.close();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    sip: backend.listening,
    httpPort: http.port,
    media: host,
    stats,
    reloadTls() {
      const { tls } = config.sip;
      const trunkCas = trunks.filter((t) => t.reload);
      if ((!tls || !backend.reloadTls) && trunkCas.length === 0) throw new Error('no TLS listener of our own or trunk CA to reload');
      // Every file is read before anything changes: a bad one leaves all as they were.
      const cas = trunkCas.map((t) => t.reload!);
      const material = tls && backend.reloadTls ? tlsMaterial(tls) : undefined;
      const read = cas.map((reload) => reload.read());
      if (material) backend.reloadTls!(material);
      read.forEach((ca, i) => cas[i]!.apply(ca));
    },
    stop(drainTimeoutMs = 0) {
      stopped ??= (async () => {
        backend.withdraw?.();
        await calls.drain(drainTimeoutMs);
        relayWatch?.close();
        // Whatever the backend's trouble, the rest is still closed.
        await backend.stop().catch((err: Error) => log.error({ err: err.message }, 'SIP backend did not stop cleanly'));
        relay?.close();
        signalingLoop?.stop();
        await host.close();
        await Promise.all([webhooks.close(config.webhook.timeoutMs), uploads.close(config.webhook.timeoutMs)]);
        await http.close();
      })();
      return stopped;
    },
  };
}

/** A trunk, and how to read its CA file again (SIGHUP) when it has one. */
function trunkOf(config: BridgeConfig['trunks'][number]): { trunk: Trunk; reload?: { read(): Buffer; apply(ca: Buffer): void } } {
  const { uri, allowedDestinations, ca: caPath, ...rest } = config;
  const trunk = { ...rest, uri, host: parseTrunkUri(uri)!.host, ...(allowedDestinations && { allowedDestinations }) };
  if (caPath === undefined) return { trunk };
  const read = () => readPem(caPath, `trunks[${config.name}].ca`);
  const tls = { ca: read() };
  return { trunk: { ...trunk, tls }, reload: { read, apply: (ca) => (tls.ca = ca) } };
}

/** What every media host shares, from the config. */
function hostSettings(config: BridgeConfig): HostSettings {
  const { media, bot } = config;
  return {
    address: media.address,
    rtpPorts: { min: media.rtpPorts.min, max: media.rtpPorts.max },
    maxQueueMs: media.maxQueueMs,
    latch: media.latch,
    rtpTimeoutMs: media.rtpTimeoutMs,
    chunkMs: bot.chunkMs,
    bot: {
      connectTimeoutMs: bot.connectTimeoutMs,
      maxMessageBytes: bot.maxMessageBytes,
      drainTimeoutMs: bot.drainTimeoutMs,
      pingIntervalMs: bot.pingIntervalMs,
      dtmfDurationMs: bot.dtmfDurationMs,
      onDrop: bot.onDrop,
      allowedNetworks: bot.urlHeader?.allowedNetworks.cidrs ?? [],
    },
    logLevel: config.log.level,
  };
}

/** The hosts' counters summed, and the latest clock and busiest loop among them. */
function hostTotals(loads: readonly HostLoad[]): Omit<LiveCalls, 'count'> {
  const packets = { in: 0, out: 0, lost: 0 };
  let queuedMs = 0;
  let maxQueuedMs = 0;
  let clockLagMs = 0;
  let eventLoopUtilization = 0;
  for (const load of loads) {
    packets.in += load.packets.in;
    packets.out += load.packets.out;
    packets.lost += load.packets.lost;
    queuedMs += load.queuedMs;
    maxQueuedMs = Math.max(maxQueuedMs, load.maxQueuedMs);
    clockLagMs = Math.max(clockLagMs, load.clockLagMs);
    eventLoopUtilization = Math.max(eventLoopUtilization, load.busy);
  }
  return { packets, queuedMs, maxQueuedMs, clockLagMs, eventLoopUtilization };
}
