// Classic pcap files (not pcapng): the caller's tone written for SIPp's play_pcap_audio, and dumpcap's captures read.
import { writeFileSync } from 'node:fs';

const LINKTYPE_ETHERNET = 1;
const ETHERNET_HEADER = 14;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const RTP_HEADER = 12;
const PCMA_PAYLOAD_TYPE = 8;
const FRAME_SAMPLES = 160;
const FRAME_US = 20_000;

/**
 * `seconds` of 20 ms PCMA packets, each carrying `frame` (160 bytes, repeated), as RTP/UDP/IPv4/Ethernet. The
 * addresses and ports are placeholders: SIPp replaces the ports with the call's and sends from its own address.
 */
export function writeTonePcap(path: string, seconds: number, frame: Buffer): void {
  if (frame.length !== FRAME_SAMPLES) throw new Error(`a PCMA frame is ${FRAME_SAMPLES} bytes, got ${frame.length}`);
  const packets = Math.ceil((seconds * 1_000_000) / FRAME_US);
  const frameBytes = ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER + RTP_HEADER + FRAME_SAMPLES;
  const file = Buffer.alloc(24 + packets * (16 + frameBytes));
  file.writeUInt32LE(0xa1b2c3d4, 0);
  file.writeUInt16LE(2, 4);
  file.writeUInt16LE(4, 6);
  file.writeUInt32LE(65535, 16);
  file.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  let offset = 24;
  for (let i = 0; i < packets; i++) {
    const atUs = i * FRAME_US;
    file.writeUInt32LE(Math.floor(atUs / 1_000_000), offset);
    file.writeUInt32LE(atUs % 1_000_000, offset + 4);
    file.writeUInt32LE(frameBytes, offset + 8);
    file.writeUInt32LE(frameBytes, offset + 12);
    writeFrame(file.subarray(offset + 16, offset + 16 + frameBytes), i, frame);
    offset += 16 + frameBytes;
  }
  writeFileSync(path, file);
}

function writeFrame(out: Buffer, index: number, frame: Buffer): void {
  out.writeUInt16BE(0x0800, 12);
  const ip = out.subarray(ETHERNET_HEADER);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(out.length - ETHERNET_HEADER, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  ip.set([127, 0, 0, 1, 127, 0, 0, 1], 12);
  ip.writeUInt16BE(ipChecksum(ip.subarray(0, IPV4_HEADER)), 10);
  const udp = ip.subarray(IPV4_HEADER);
  udp.writeUInt16BE(6000, 0);
  udp.writeUInt16BE(6000, 2);
  udp.writeUInt16BE(udp.length, 4);
  const rtp = udp.subarray(UDP_HEADER);
  rtp.writeUInt8(0x80, 0);
  rtp.writeUInt8(PCMA_PAYLOAD_TYPE | (index === 0 ? 0x80 : 0), 1);
  rtp.writeUInt16BE(index & 0xffff, 2);
  rtp.writeUInt32BE((index * FRAME_SAMPLES) >>> 0, 4);
  rtp.writeUInt32BE(0x5eed1234, 8);
  frame.copy(rtp, RTP_HEADER);
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface UdpPacket {
  readonly atUs: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The UDP payload, as far as the capture kept it. */
  readonly payload: Buffer;
}

/** The IPv4/UDP packets of an Ethernet pcap file (as dumpcap -P writes on Linux's loopback), in file order. */
export function* udpPackets(file: Buffer): Generator<UdpPacket> {
  const magic = file.readUInt32LE(0);
  const divisor = magic === 0xa1b2c3d4 ? 1 : magic === 0xa1b23c4d ? 1000 : 0;
  if (!divisor) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  if (file.readUInt32LE(20) !== LINKTYPE_ETHERNET) throw new Error('pcap link type is not Ethernet');
  for (let offset = 24; offset + 16 <= file.length; ) {
    const atUs = file.readUInt32LE(offset) * 1_000_000 + Math.floor(file.readUInt32LE(offset + 4) / divisor);
    const captured = file.readUInt32LE(offset + 8);
    const frame = file.subarray(offset + 16, offset + 16 + captured);
    offset += 16 + captured;
    if (frame.length < ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[ETHERNET_HEADER]! & 0x0f) * 4;
    if (frame[ETHERNET_HEADER + 9] !== 17) continue;
    const udp = frame.subarray(ETHERNET_HEADER + ihl);
    yield { atUs, srcPort: udp.readUInt16BE(0), dstPort: udp.readUInt16BE(2), payload: udp.subarray(UDP_HEADER) };
  }
}
