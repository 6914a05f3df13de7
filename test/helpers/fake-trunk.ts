// A minimal SIP trunk on UDP for call-API tests: records each INVITE (and when it came) and answers it by a fixed rule.
import { createSocket, type Socket } from 'node:dgram';

export type TrunkBehaviour =
  /** 100 and 180, then waits: a CANCEL gets 200 and the INVITE 487. */
  | { readonly kind: 'ring' }
  /** A final status at once (ACKed by the bridge). */
  | { readonly kind: 'reject'; readonly status: number; readonly phrase: string };

export interface ReceivedRequest {
  readonly method: string;
  readonly text: string;
  readonly at: number;
}

const header = (text: string, name: string): string[] => text.split('\r\n').filter((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`));

export class FakeTrunk {
  readonly requests: ReceivedRequest[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly behaviour: TrunkBehaviour,
  ) {
    socket.on('message', (data, from) => this.#take(data.toString('utf8'), from.address, from.port));
  }

  static async start(behaviour: TrunkBehaviour): Promise<FakeTrunk> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new FakeTrunk(socket, behaviour);
  }

  get uri(): string {
    return `sip:127.0.0.1:${this.socket.address().port};transport=udp`;
  }

  /** First INVITE of each Call-ID (retransmissions left out). */
  invites(): ReceivedRequest[] {
    const seen = new Set<string>();
    return this.requests.filter((r) => {
      if (r.method !== 'INVITE') return false;
      const callId = header(r.text, 'call-id')[0] ?? '';
      if (seen.has(callId)) return false;
      seen.add(callId);
      return true;
    });
  }

  count(method: string): number {
    return this.requests.filter((r) => r.method === method).length;
  }

  close(): void {
    this.socket.close();
  }

  #take(text: string, address: string, port: number): void {
    const method = /^([A-Z]+) /.exec(text)?.[1];
    if (!method) return;
    this.requests.push({ method, text, at: performance.now() });
    const reply = (status: number, phrase: string, cseq?: string) => {
      const to = header(text, 'to')[0]!;
      const lines = [
        `SIP/2.0 ${status} ${phrase}`,
        ...header(text, 'via'),
        ...header(text, 'from'),
        status === 100 || /;tag=/i.test(to) ? to : `${to};tag=trunk`,
        ...header(text, 'call-id'),
        cseq ?? header(text, 'cseq')[0]!,
        'Content-Length: 0',
        '',
        '',
      ];
      this.socket.send(lines.join('\r\n'), port, address);
    };
    if (method === 'INVITE') {
      reply(100, 'Trying');
      if (this.behaviour.kind === 'ring') reply(180, 'Ringing');
      else reply(this.behaviour.status, this.behaviour.phrase);
    } else if (method === 'CANCEL') {
      reply(200, 'OK');
      const cseq = header(text, 'cseq')[0]!.replace('CANCEL', 'INVITE');
      reply(487, 'Request Terminated', cseq);
    } else if (method === 'BYE') {
      reply(200, 'OK');
    }
  }
}
