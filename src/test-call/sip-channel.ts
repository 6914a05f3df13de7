// The caller's SIP connection to the bridge: one TCP connection or one UDP socket, whole messages both ways.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { StreamFramer } from '../signaling/framing.js';
import type { SipMessage } from '../signaling/message.js';
import { parseMessage } from '../signaling/parser.js';
import type { CallTarget } from './target.js';

const MAX_MESSAGE_BYTES = 65535;

export interface SipChannelEvents {
  message: [message: SipMessage, raw: Buffer];
  /** Something arrived that is not SIP our parser accepts. */
  unparseable: [reason: string, raw: Buffer];
  /** The TCP connection is gone (closed by the bridge, reset, or unframeable). */
  closed: [reason: string];
}

export class SipChannel extends EventEmitter<SipChannelEvents> {
  private constructor(
    /** Our end of the connection or socket, for Via and Contact. */
    readonly local: { readonly address: string; readonly port: number },
    private readonly write: (data: Buffer) => void,
    private readonly end: () => void,
  ) {
    super();
  }

  static async open(target: CallTarget, localAddress: string): Promise<SipChannel> {
    return target.transport === 'udp' ? SipChannel.#openUdp(target, localAddress) : SipChannel.#openTcp(target, localAddress);
  }

  static async #openUdp(target: CallTarget, localAddress: string): Promise<SipChannel> {
    const socket: UdpSocket = createSocket(net.isIPv6(localAddress) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, localAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const channel = new SipChannel(
      { address: localAddress, port: socket.address().port },
      // Responses and requests alike go to the target: the bridge sends from the socket it listens on.
      (data) => socket.send(data, target.port, target.host),
      () => socket.close(),
    );
    socket.on('message', (data) => channel.#take(data));
    socket.on('error', () => {});
    return channel;
  }

  static async #openTcp(target: CallTarget, localAddress: string): Promise<SipChannel> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: target.host, port: target.port, localAddress }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    let ended = false;
    const channel = new SipChannel(
      { address: localAddress, port: socket.localPort ?? 0 },
      (data) => socket.write(data),
      () => {
        ended = true;
        socket.destroy();
      },
    );
    const framer = new StreamFramer(MAX_MESSAGE_BYTES);
    let closeReason = 'connection closed by the bridge';
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type === 'message') channel.#take(event.data);
        else if (event.type === 'ping') socket.write('\r\n');
        else {
          closeReason = `unframeable stream from the bridge: ${event.reason}`;
          socket.destroy();
        }
      }
    });
    socket.on('error', (err) => {
      closeReason = `connection error: ${err.message}`;
    });
    socket.on('close', () => {
      if (!ended) channel.emit('closed', closeReason);
    });
    return channel;
  }

  send(data: Buffer): void {
    this.write(data);
  }

  close(): void {
    this.end();
  }

  #take(data: Buffer): void {
    const parsed = parseMessage(data);
    if (parsed.ok) this.emit('message', parsed.message, data);
    else this.emit('unparseable', parsed.reason, data);
  }
}
