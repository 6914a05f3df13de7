// A leg's peer in a bridge transfer: the agent's RTP socket (bound for the agent INVITE's offer), then, once the agent
// answered, its media session on the same clock, joined to the caller's; closed once.
import type { Logger } from 'pino';
import { isDtmfDigit, joinSessions, MediaSession, type BoundRtpSocket, type FrameClock, type MediaFormat, type MediaStats, type RtpPortPool } from '../media/index.js';
import type { HostSettings, PeerBot } from './types.js';

export interface PeerEvents {
  /** The agent's RTP stopped for rtpTimeoutMs. */
  end(reason: string): void;
  dtmf(digit: string, durationMs: number): void;
}

/** A key press that came as SIP INFO, played on `media` as RFC 4733 (100 ms when the INFO gave no length). */
export function playSipDtmf(media: MediaSession | undefined, digit: string, durationMs: number): void {
  if (media && isDtmfDigit(digit)) media.relayDtmf(digit, durationMs > 0 ? durationMs : 100);
}

export class LegPeer {
  #media: MediaSession | undefined;
  #closed = false;

  private constructor(
    private readonly rtp: BoundRtpSocket,
    private readonly pool: RtpPortPool,
  ) {}

  static async open(pool: RtpPortPool): Promise<LegPeer> {
    return new LegPeer(await pool.bind(), pool);
  }

  get port(): number {
    return this.rtp.port;
  }

  get joined(): boolean {
    return this.#media !== undefined;
  }

  /** The agent's media with `format`, at 8 kHz on the caller's clock, joined to `caller`'s. */
  join(caller: MediaSession, format: MediaFormat, bot: PeerBot, context: { settings: HostSettings; clock: FrameClock; log: Logger }, events: PeerEvents): void {
    if (this.#closed || this.#media) return;
    const { settings, clock, log } = context;
    const media = new MediaSession({
      rtp: this.rtp,
      releasePort: () => this.pool.release(this.rtp.port),
      // codec, payload types, remote address and direction, as the answer settled them.
      ...format,
      botRate: 8000,
      chunkMs: settings.chunkMs,
      maxQueueMs: settings.maxQueueMs,
      latch: settings.latch,
      rtpTimeoutMs: settings.rtpTimeoutMs,
      clock,
      log: log.child({ side: 'agent' }),
    });
    this.#media = media;
    media.on('rtpTimeout', () => events.end(`no RTP from the agent for ${settings.rtpTimeoutMs} ms`));
    media.on('dtmf', (digit, durationMs) => events.dtmf(digit, durationMs));
    joinSessions(caller, media, bot === 'listen');
    media.start();
  }

  renegotiate(format: MediaFormat): void {
    this.#media?.renegotiate(format);
  }

  /** A caller's key press that came as SIP INFO, to the joined agent. */
  relayDtmf(digit: string, durationMs: number): void {
    playSipDtmf(this.#media, digit, durationMs);
  }

  /** Closes the socket (and the agent's media); what the agent's side measured, when it was joined. */
  close(): MediaStats | undefined {
    if (this.#closed) return undefined;
    this.#closed = true;
    const media = this.#media;
    if (media) {
      const stats = media.stats;
      media.close();
      return stats;
    }
    this.rtp.socket.close();
    this.pool.release(this.rtp.port);
    return undefined;
  }
}
