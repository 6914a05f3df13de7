// The configuration file's shape, defaults and rules; every key is documented in README.md.
import net from 'node:net';
import { z } from 'zod';
import { apiSection, isLoopbackHost, transferSection, trunksSection } from './call-control.js';
import { cidrList } from './cidr.js';
import { usableCpus } from './cpus.js';
import { botProtocol, host, httpUrl, listener, port, sampleRate, upgradeHeaders, wsUrl } from './fields.js';
import { recording, route } from './routing.js';

export const configSchema = z.strictObject({
  sip: z
    .strictObject({
      /** Who speaks SIP on the wire: the bridge's own stack, or drachtio-server (the listeners below are then its). */
      backend: z.enum(['embedded', 'drachtio']).default('embedded'),
      drachtio: z
        .strictObject({ host: host.default('127.0.0.1'), port: port.default(9022), secret: z.string().min(1).default('cymru') })
        .prefault({}),
      udp: z.union([listener(5060), z.literal(false)]).prefault({}),
      tcp: z.union([listener(5070), z.literal(false)]).prefault({}),
      /** On when present; Exotel's TLS port is 443. Files are read again on SIGHUP. */
      tls: z
        .strictObject({
          host: host.default('0.0.0.0'),
          port: port.default(5061),
          cert: z.string().min(1),
          key: z.string().min(1),
          /** CA bundle: when set, clients must present a certificate it signed (mutual TLS). */
          ca: z.string().min(1).optional(),
        })
        .optional(),
      /** Who may send us SIP (Exotel authenticates by IP: list its edge addresses). */
      allowedSources: cidrList.prefault(['127.0.0.0/8', '::1/128']),
      /** What requests from elsewhere get: 403 Forbidden, or nothing at all. */
      refusedSources: z.enum(['reject', 'drop']).default('reject'),
      /** TCP/TLS connections one address may hold open at once. */
      maxConnectionsPerSource: z.number().int().min(1).default(64),
      /** A message on a TCP/TLS connection must arrive whole within this long (slow senders are cut off). */
      messageTimeoutMs: z.number().int().min(100).default(10_000),
      /** Host or IP carriers reach us at, for Via and Contact; defaults to the listener's address. */
      advertisedAddress: host.optional(),
      maxMessageBytes: z.number().int().min(1024).max(1_048_576).default(65_535),
      timers: z
        .strictObject({ t1: z.number().int().min(10).default(500), t2: z.number().int().min(10).default(4000), t4: z.number().int().min(10).default(5000) })
        .prefault({}),
    })
    .prefault({}),
  media: z
    .strictObject({
      /** Address the RTP sockets bind to. */
      address: host.default('127.0.0.1'),
      /** Address put in our SDP (c=); defaults to `address`. */
      advertisedAddress: z.string().refine((a) => net.isIP(a) !== 0, 'must be an IP address').optional(),
      rtpPorts: z.strictObject({ min: port.default(10000), max: port.default(20000) }).prefault({}),
      /** Media worker threads, each with its own slice of rtpPorts; 0 runs every call's media in the main thread. */
      workers: z.number().int().min(0).default(() => usableCpus()),
      /** Cap on the bot audio waiting to be played; the oldest is dropped beyond it. */
      maxQueueMs: z.number().int().min(1000).default(60_000),
      /** Where caller RTP may come from: the SDP's IP (any port, for NAT), or any address (the first one wins). */
      latch: z.enum(['sdp-ip', 'any']).default('sdp-ip'),
      /** A caller that sends no RTP this long is gone: the call ends. 0 turns this off. */
      rtpTimeoutMs: z.number().int().refine((v) => v === 0 || v >= 1000, 'must be 0 (off) or at least 1000').default(30_000),
      /** Who faces the carrier's RTP: the bridge itself, or rtpengine relaying to the bridge (SRTP, NAT). */
      relay: z.enum(['embedded', 'rtpengine']).default('embedded'),
      rtpengine: z
        .strictObject({
          /** rtpengine's ng control socket (its --listen-ng). */
          host: host.default('127.0.0.1'),
          port: port.default(22222),
          timeoutMs: z.number().int().min(50).default(1000),
          retries: z.number().int().min(0).max(5).default(1),
          /** How often rtpengine is pinged for /health and admission; each ping waits timeoutMs. */
          pingIntervalMs: z.number().int().min(100).default(5000),
          /** Address our ng client binds to. */
          localAddress: z.string().refine((a) => net.isIP(a) !== 0, 'must be an IP address').optional(),
          /** rtpengine interface names (--interface=NAME/IP) facing the carrier and facing the bridge. */
          interfaces: z.strictObject({ carrier: z.string().min(1), bridge: z.string().min(1) }).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  http: z.strictObject({ host: host.default('127.0.0.1'), port: port.default(8080) }).prefault({}),
  /** The REST API on the HTTP listener (/v1/calls). */
  api: apiSection,
  /** Where outbound INVITEs go. */
  trunks: trunksSection,
  transfer: transferSection,
  bot: z
    .strictObject({
      defaultUrl: wsUrl.optional(),
      sampleRate: sampleRate.default(8000),
      /** The protocol bots speak unless their route says otherwise: exotel (AgentStream), twilio (Media Streams) or raw. */
      protocol: botProtocol.default('exotel'),
      /** Headers added to every bot WebSocket upgrade request, e.g. {"Authorization": "Bearer ..."}. */
      headers: upgradeHeaders.default({}),
      chunkMs: z
        .union([z.literal(20), z.literal(40), z.literal(60), z.literal(80), z.literal(100)], { error: 'must be 20, 40, 60, 80 or 100' })
        .default(100),
      connectTimeoutMs: z.number().int().min(100).default(10_000),
      connectRetries: z.number().int().min(0).max(5).default(1),
      maxMessageBytes: z.number().int().min(4096).default(1_048_576),
      /** After the bot closes, how long queued audio may still play before the BYE. */
      drainTimeoutMs: z.number().int().min(0).default(10_000),
      /** WebSocket ping period; a bot that misses a pong is gone. 0 turns pings off. */
      pingIntervalMs: z.number().int().refine((v) => v === 0 || v >= 100, 'must be 0 (off) or at least 100').default(20_000),
      /** Length of a key press the bot sends without a duration. */
      dtmfDurationMs: z.number().int().min(40).max(2000).default(100),
      /** When the bot's socket drops (no clean close): hang up, or connect again once with the same stream_sid. */
      onDrop: z.enum(['hangup', 'reconnect']).default('hangup'),
      urlHeader: z
        .strictObject({
          name: z.string().regex(/^X-[A-Za-z0-9-]+$/i, 'must be an X- header name'),
          allowedHosts: z.array(host).min(1),
          /** Loopback, private and link-local addresses are refused unless they are in these CIDRs. */
          allowedNetworks: cidrList.prefault([]),
        })
        .optional(),
    })
    .prefault({}),
  routes: z.array(route).default([]),
  /** Record every call (routes may override); off when absent. */
  recording: recording.optional(),
  /** A JSON POST after each call (see README); off without a URL. */
  webhook: z
    .strictObject({
      url: httpUrl.optional(),
      /** Each attempt may take this long. */
      timeoutMs: z.number().int().min(100).default(5000),
      /** Further attempts after a failed one (no answer, 5xx, 408, 429), waiting backoffMs, then twice that, ... */
      retries: z.number().int().min(0).max(10).default(3),
      backoffMs: z.number().int().min(10).default(1000),
      /** Reports waiting to be sent at once; beyond it new ones are dropped with a warning. */
      maxPending: z.number().int().min(1).default(1000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Calls are ended (BYE, stop "stopped") when they last this long; Exotel's own streams last 60 min. */
      maxCallDurationMs: z.number().int().min(1000).default(3_600_000),
      /** Calls at once; more get 503 with Retry-After. */
      maxConcurrentCalls: z.number().int().min(1).default(1000),
      /** New INVITEs per second from one address (a token bucket as deep as one second); more get 503. */
      invitesPerSecondPerSource: z.number().min(0.1).default(20),
      /**
       * New calls get 503 while the 20 ms media clock fires later than this (90th percentile over the last 2 s); 0
       * never. Two frames: a healthy bridge's clock is a few ms late, and at 100 ms it drops frames of every call.
       */
      maxClockLagMs: z.number().int().min(0).default(40),
      /**
       * New calls get 503 while the event loop is busy more than this share of the last second (0-1); 1 never. The
       * leading sign of overload: the bench's bridge lost no frames at 0.75-0.85 and some at 0.95-1.
       */
      maxEventLoopUtilization: z.number().gt(0).max(1).default(0.9),
      /** Exotel's limits on custom headers: the X- headers together, and the UUI header alone; more gets 400. */
      customHeaderBytes: z.number().int().min(1).default(200),
      uuiHeader: z.string().regex(/^X-[A-Za-z0-9-]+$/i, 'must be an X- header name').default('X-UUI'),
      uuiBytes: z.number().int().min(1).default(45),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** After SIGTERM: new calls get 503 while calls in progress may finish for this long; then BYE. */
      drainTimeoutMs: z.number().int().min(0).default(30_000),
      /** The same after SIGINT (Ctrl-C): shorter. */
      interruptDrainTimeoutMs: z.number().int().min(0).default(2_000),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
})
  .superRefine((config, ctx) => {
    const { min, max } = config.media.rtpPorts;
    if (min > max) ctx.addIssue({ code: 'custom', path: ['media', 'rtpPorts'], message: `min ${min} is above max ${max}` });
    const { workers } = config.media;
    if (workers > 0 && Math.floor((max - min + 1) / workers) < 2) {
      ctx.addIssue({ code: 'custom', path: ['media', 'workers'], message: `${workers} workers cannot share rtpPorts ${min}-${max}: each needs 2 ports at least` });
    }
    if (config.sip.backend === 'embedded' && !config.sip.udp && !config.sip.tcp && !config.sip.tls) {
      ctx.addIssue({ code: 'custom', path: ['sip'], message: 'no SIP listener: configure udp, tcp or tls' });
    }
    // Anyone who reaches an open API can place calls at the owner's cost.
    if (config.api.token === undefined && !isLoopbackHost(config.http.host)) {
      ctx.addIssue({ code: 'custom', path: ['api', 'token'], message: `required when http.host (${config.http.host}) is not loopback: the call API places calls at your cost` });
    }
    // Twilio Media Streams are mu-law at 8 kHz: no other rate can be given to them.
    if (config.bot.protocol === 'twilio' && config.bot.sampleRate !== 8000) {
      ctx.addIssue({ code: 'custom', path: ['bot', 'sampleRate'], message: `must be 8000 with bot.protocol twilio (got ${config.bot.sampleRate})` });
    }
    for (const [index, r] of config.routes.entries()) {
      if ((r.protocol ?? config.bot.protocol) === 'twilio' && r.sampleRate !== undefined && r.sampleRate !== 8000) {
        ctx.addIssue({ code: 'custom', path: ['routes', index, 'sampleRate'], message: `must be 8000 with protocol twilio (got ${r.sampleRate})` });
      }
    }
    const names = new Set<string>();
    for (const [index, t] of config.trunks.entries()) {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['trunks', index, 'name'], message: `"${t.name}" is used by an earlier trunk` });
      // drachtio-server makes the TLS connection with its own trust settings: a `ca` here would be ignored.
      if (t.ca !== undefined && config.sip.backend === 'drachtio') {
        ctx.addIssue({ code: 'custom', path: ['trunks', index, 'ca'], message: "applies to sip.backend embedded only (with drachtio, drachtio-server's TLS settings decide)" });
      }
      names.add(t.name);
      if (t.srtp && config.media.relay !== 'rtpengine') {
        ctx.addIssue({ code: 'custom', path: ['trunks', index, 'srtp'], message: 'needs media.relay: rtpengine (the bridge itself speaks plain RTP only)' });
      }
    }
  });

export type BridgeConfig = z.output<typeof configSchema>;
export type RecordingConfig = z.output<typeof recording>;
/** What a config file may hold: everything optional that has a default. */
export type BridgeConfigInput = z.input<typeof configSchema>;
