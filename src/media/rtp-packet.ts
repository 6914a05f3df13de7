// RTP fixed header (RFC 3550 5.1): parse into a reused object, write into a reused buffer.

export const RTP_HEADER_BYTES = 12;

/** A parsed header; one instance is reused for every packet of a session. */
export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payloadOffset: number;
  payloadLength: number;
}

export function emptyRtpHeader(): RtpHeader {
  return { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/** Fills `out` from `packet`; returns a reason when it is not a usable RTP version 2 packet. */
export function parseRtp(packet: Buffer, out: RtpHeader): string | undefined {
  if (packet.length < RTP_HEADER_BYTES) return 'shorter than an RTP header';
  const b0 = packet[0]!;
  if (b0 >> 6 !== 2) return 'not RTP version 2';
  let offset = RTP_HEADER_BYTES + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (packet.length < offset + 4) return 'truncated header extension';
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  const padding = b0 & 0x20 ? packet[packet.length - 1]! : 0;
  const payloadLength = packet.length - offset - padding;
  if (payloadLength < 0) return 'header longer than the packet';
  const b1 = packet[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequence = packet.readUInt16BE(2);
  out.timestamp = packet.readUInt32BE(4);
  out.ssrc = packet.readUInt32BE(8);
  out.payloadOffset = offset;
  out.payloadLength = payloadLength;
  return undefined;
}

export function writeRtpHeader(
  packet: Buffer,
  marker: boolean,
  payloadType: number,
  sequence: number,
  timestamp: number,
  ssrc: number,
): void {
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  packet.writeUInt16BE(sequence & 0xffff, 2);
  packet.writeUInt32BE(timestamp >>> 0, 4);
  packet.writeUInt32BE(ssrc >>> 0, 8);
}

/** A new packet: the header, then a copy of `payload`. */
export function rtpPacket(marker: boolean, payloadType: number, sequence: number, timestamp: number, ssrc: number, payload: Uint8Array): Buffer {
  const packet = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
  writeRtpHeader(packet, marker, payloadType, sequence, timestamp, ssrc);
  packet.set(payload, RTP_HEADER_BYTES);
  return packet;
}
