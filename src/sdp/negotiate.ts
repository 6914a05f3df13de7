// Offer/answer for a G.711 audio call (RFC 3264): pick PCMA over PCMU, echo telephone-event, answer our RTP port.
import net from 'node:net';
import sdpTransform from 'sdp-transform';

export type AudioCodec = 'PCMA' | 'PCMU';

const STATIC_PAYLOAD_TYPES: Readonly<Record<number, AudioCodec>> = { 0: 'PCMU', 8: 'PCMA' };
const CODEC_PREFERENCE: readonly AudioCodec[] = ['PCMA', 'PCMU'];
const SUPPORTED_DTMF_EVENTS = '0-15';

export interface NegotiatedAudio {
  readonly codec: AudioCodec;
  readonly payloadType: number;
  /** telephone-event payload type, when the offer has one (96 from Exotel, 101 from most others). */
  readonly dtmfPayloadType?: number;
  /** Where the offer asks us to send RTP (before symmetric-RTP latching). */
  readonly remote: { readonly address: string; readonly port: number };
  /** Our direction in the answer. */
  readonly direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** Index of the chosen m-line; the others are refused with port 0. */
  readonly mediaIndex: number;
  readonly offer: sdpTransform.SessionDescription;
}

/** Why an offer cannot be answered: the SIP status and the RFC 3261 warn-code that say so. */
export interface SdpRejection {
  readonly status: 400 | 488;
  readonly warnCode: 300 | 301 | 302 | 304 | 305 | 399;
  readonly reason: string;
}

export type Negotiation = { ok: true; audio: NegotiatedAudio } | ({ ok: false } & SdpRejection);

const reject = (status: 400 | 488, warnCode: SdpRejection['warnCode'], reason: string): Negotiation => ({
  ok: false,
  status,
  warnCode,
  reason,
});

const ANSWER_DIRECTION = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' } as const;

const PLAIN_RTP: readonly string[] = ['RTP/AVP', 'RTP/AVPF'];
/** What a media relay that terminates SRTP (rtpengine) may accept from the carrier. */
export const RELAYABLE_TRANSPORTS: readonly string[] = [...PLAIN_RTP, 'RTP/SAVP', 'RTP/SAVPF'];

/**
 * Answers an offer; `transports` are the m-line protocols we can take (plain RTP unless a relay handles SRTP).
 * `keep` is the codec in use, chosen again while the offer still has it (a re-offer need not switch codecs).
 */
export function negotiate(offerText: string, transports: readonly string[] = PLAIN_RTP, keep?: AudioCodec): Negotiation {
  if (!/^v=0\r?$/m.test(offerText.split('\n', 1)[0] ?? '')) return reject(400, 399, 'SDP offer does not start with v=0');
  const offer = sdpTransform.parse(offerText);
  const mediaIndex = offer.media.findIndex((m) => m.type === 'audio' && m.port !== 0);
  if (mediaIndex < 0) return reject(488, 304, 'offer has no active audio stream');
  const media = offer.media[mediaIndex]!;
  if (!Number.isInteger(media.port) || media.port < 1 || media.port > 65535) return reject(400, 399, 'bad audio port in offer');
  if (!transports.includes(media.protocol)) {
    return reject(488, 302, `transport ${media.protocol ?? 'unknown'} not supported (${transports.join(', ')} only)`);
  }
  const connection = media.connection ?? offer.connection;
  if (!connection) return reject(400, 399, 'offer has no connection address (c=)');
  const ipVersion = net.isIP(connection.ip);
  if (ipVersion === 0) return reject(488, 301, `connection address ${connection.ip} is not an IP address`);

  const payloads = String(media.payloads ?? '')
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
  const codecOf = (pt: number): string | undefined => {
    const rtp = media.rtp.find((r) => r.payload === pt);
    if (rtp) return rtp.rate === 8000 || rtp.rate === undefined ? String(rtp.codec).toUpperCase() : `${rtp.codec}/${rtp.rate}`;
    return STATIC_PAYLOAD_TYPES[pt];
  };
  const codec = [...(keep ? [keep] : []), ...CODEC_PREFERENCE].find((c) => payloads.some((pt) => codecOf(pt) === c));
  if (!codec) {
    const offered = payloads.map((pt) => codecOf(pt) ?? String(pt)).join(', ');
    return reject(488, 305, `no common codec: offered ${offered || 'none'}; supported PCMA, PCMU`);
  }
  const payloadType = payloads.find((pt) => codecOf(pt) === codec)!;
  // sdp-transform types fields by the grammar, but a broken line can leave a number where a name belongs.
  const dtmf = media.rtp.find((r) => String(r.codec).toLowerCase() === 'telephone-event' && r.rate === 8000 && payloads.includes(r.payload));
  const direction = ANSWER_DIRECTION[media.direction ?? offer.direction ?? 'sendrecv'];
  return {
    ok: true,
    audio: {
      codec,
      payloadType,
      ...(dtmf && { dtmfPayloadType: dtmf.payload }),
      remote: { address: connection.ip, port: media.port },
      direction,
      mediaIndex,
      offer,
    },
  };
}

export interface LocalMedia {
  readonly address: string;
  readonly port: number;
  /** o= session id; stays the same for the call so re-answers are recognisably the same session. */
  readonly sessionId: number;
  /** o= version: one more for each new answer in the session (RFC 3264 section 8). */
  readonly sessionVersion?: number;
}

export function buildAnswer(audio: NegotiatedAudio, local: LocalMedia): string {
  const ipVer = net.isIPv6(local.address) ? 6 : 4;
  const media = audio.offer.media.map((offered, index): sdpTransform.MediaDescription => {
    if (index !== audio.mediaIndex) {
      return { type: offered.type, port: 0, protocol: offered.protocol, payloads: offered.payloads, rtp: [], fmtp: [] };
    }
    const rtp: Array<{ payload: number; codec: string; rate: number }> = [{ payload: audio.payloadType, codec: audio.codec, rate: 8000 }];
    const fmtp: Array<{ payload: number; config: string }> = [];
    if (audio.dtmfPayloadType !== undefined) {
      rtp.push({ payload: audio.dtmfPayloadType, codec: 'telephone-event', rate: 8000 });
      fmtp.push({ payload: audio.dtmfPayloadType, config: SUPPORTED_DTMF_EVENTS });
    }
    return {
      type: 'audio',
      port: local.port,
      protocol: offered.protocol,
      payloads: rtp.map((r) => r.payload).join(' '),
      rtp,
      fmtp,
      ptime: 20,
      direction: audio.direction,
    };
  });
  return sdpTransform.write({
    version: 0,
    origin: {
      username: '-',
      sessionId: local.sessionId,
      sessionVersion: local.sessionVersion ?? 1,
      netType: 'IN',
      ipVer,
      address: local.address,
    },
    name: 'sip-ws-bridge',
    connection: { version: ipVer, ip: local.address },
    timing: { start: 0, stop: 0 },
    media,
  });
}
