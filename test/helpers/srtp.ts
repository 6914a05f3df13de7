// SRTP (RFC 3711) with AES_CM_128_HMAC_SHA1_80, just enough for a test carrier to talk to rtpengine over SDES.
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';

const TAG_BYTES = 10;

/** AES-CM keystream: the counter block is `iv` (16 bytes) incremented per block, as RFC 3711 4.1.1 defines it. */
function keystream(key: Buffer, iv: Buffer, length: number): Buffer {
  return createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(length));
}

/** RFC 3711 4.3.1 with a key derivation rate of 0: session keys from the master key and salt. */
function derive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(16);
  masterSalt.copy(x, 0);
  x[7] = x[7]! ^ label;
  return keystream(masterKey, x, length);
}

export class SrtpContext {
  readonly #cipherKey: Buffer;
  readonly #authKey: Buffer;
  readonly #salt: Buffer;
  /** Rollover counter per SSRC (RFC 3711 3.3.1), tracked from the sequence numbers seen. */
  readonly #roc = new Map<number, { roc: number; lastSeq: number }>();

  /** `inline` is the base64 key parameter of an a=crypto line: 16 bytes of master key, 14 of salt. */
  constructor(inline: string) {
    const material = Buffer.from(inline.split('|')[0]!, 'base64');
    if (material.length !== 30) throw new Error(`SRTP key material is ${material.length} bytes, not 30`);
    const masterKey = material.subarray(0, 16);
    const masterSalt = material.subarray(16);
    this.#cipherKey = derive(masterKey, masterSalt, 0, 16);
    this.#authKey = derive(masterKey, masterSalt, 1, 20);
    this.#salt = derive(masterKey, masterSalt, 2, 14);
  }

  // The RTP header is read here by hand, not with the product's parseRtp: an SRTP packet's payload is encrypted, and
  // with it the padding count in its last byte, which parseRtp checks.
  protect(rtp: Buffer): Buffer {
    const ssrc = rtp.readUInt32BE(8);
    const seq = rtp.readUInt16BE(2);
    const roc = this.#rocFor(ssrc, seq);
    const header = 12 + 4 * (rtp[0]! & 0x0f);
    const out = Buffer.from(rtp);
    this.#crypt(out, header, ssrc, roc, seq);
    return Buffer.concat([out, this.#tag(out, roc)]);
  }

  /** The plain RTP packet, or undefined when the authentication tag does not match. */
  unprotect(srtp: Buffer): Buffer | undefined {
    if (srtp.length < 12 + TAG_BYTES) return undefined;
    const body = Buffer.from(srtp.subarray(0, srtp.length - TAG_BYTES));
    const ssrc = body.readUInt32BE(8);
    const seq = body.readUInt16BE(2);
    const roc = this.#rocFor(ssrc, seq);
    if (!timingSafeEqual(this.#tag(body, roc), srtp.subarray(srtp.length - TAG_BYTES))) return undefined;
    this.#crypt(body, 12 + 4 * (body[0]! & 0x0f), ssrc, roc, seq);
    return body;
  }

  #crypt(packet: Buffer, offset: number, ssrc: number, roc: number, seq: number): void {
    const iv = Buffer.alloc(16);
    this.#salt.copy(iv, 0);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
    iv.writeUInt16BE((iv.readUInt16BE(12) ^ seq) & 0xffff, 12);
    const stream = keystream(this.#cipherKey, iv, packet.length - offset);
    for (let i = offset; i < packet.length; i++) packet[i] = packet[i]! ^ stream[i - offset]!;
  }

  #tag(packet: Buffer, roc: number): Buffer {
    const rocBytes = Buffer.alloc(4);
    rocBytes.writeUInt32BE(roc);
    return createHmac('sha1', this.#authKey).update(packet).update(rocBytes).digest().subarray(0, TAG_BYTES);
  }

  #rocFor(ssrc: number, seq: number): number {
    const state = this.#roc.get(ssrc);
    if (!state) {
      this.#roc.set(ssrc, { roc: 0, lastSeq: seq });
      return 0;
    }
    if (seq < 0x1000 && state.lastSeq > 0xf000) state.roc++;
    state.lastSeq = seq;
    return state.roc;
  }
}
