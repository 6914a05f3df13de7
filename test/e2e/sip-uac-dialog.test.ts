// An outbound call's dialog behaves as an inbound one: the trunk's re-INVITE and INFO, and the loss of its TCP connection.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import type { EmbeddedSipBackend, Reoffer } from '../../src/signaling/index.js';
import { StreamFramer } from '../../src/signaling/framing.js';
import type { SipRequest, SipResponse } from '../../src/signaling/message.js';
import { parseMessage } from '../../src/signaling/parser.js';
import { SipTestClient } from '../helpers/sip-client.js';
import { answered, dialRequest, expectIdle, isRequest, reply, SDP, startBackend } from '../helpers/uac.js';

let backend: EmbeddedSipBackend | undefined;
let peer: SipTestClient | undefined;

afterEach(async () => {
  if (backend) await expectIdle(backend);
  await backend?.stop();
  peer?.close();
  backend = undefined;
  peer = undefined;
});

/** A request from the callee inside the dialog its 200 made: From and To swapped, our Contact as the target. */
function calleeRequest(method: string, invite: SipRequest, toTag: string, cseq: number, port: number, body?: { type: string; text: string }): string {
  return [
    `${method} ${/<([^>]+)>/.exec(invite.headers.get('contact')!)![1]} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${method}-${cseq};rport`,
    'Max-Forwards: 70',
    `From: ${invite.headers.get('to')};tag=${toTag}`,
    `To: ${invite.headers.get('from')}`,
    `Call-ID: ${invite.callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:peer@127.0.0.1:${port}>`,
    ...(body ? [`Content-Type: ${body.type}`] : []),
    `Content-Length: ${Buffer.byteLength(body?.text ?? '')}`,
    '',
    body?.text ?? '',
  ].join('\r\n');
}

it("hands the trunk's re-INVITE to the application as a reoffer, reports INFO key presses, and takes its BYE", async () => {
  backend = await startBackend();
  const client = await SipTestClient.open('udp', { host: '127.0.0.1', port: backend.listening.udp!.port });
  peer = client;
  const call = backend.dial(dialRequest(`sip:127.0.0.1:${client.localPort}`));
  const invite = (await client.request('INVITE')) as SipRequest;
  client.send(reply(invite, '200 OK', 'callee', [`Contact: <sip:peer@127.0.0.1:${client.localPort}>`], SDP));
  const [dialog] = await answered(call);
  await client.request('ACK');

  const reoffered = once(dialog, 'reoffer') as Promise<[Reoffer]>;
  client.send(calleeRequest('INVITE', invite, 'callee', 1, client.localPort, { type: 'application/sdp', text: SDP.replace('41000', '41002') }));
  const [reoffer] = await reoffered;
  expect(reoffer.sdp).toContain('m=audio 41002');
  reoffer.accept('v=0\r\no=bridge 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\n');
  const ok = (await client.waitFor((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE' && m.cseq.seq === 1, '200 to the re-INVITE')) as SipResponse;
  expect(ok.body.toString()).toContain('o=bridge 1 2');
  client.send(calleeRequest('ACK', invite, 'callee', 1, client.localPort));

  const pressed = once(dialog, 'dtmf');
  client.send(calleeRequest('INFO', invite, 'callee', 2, client.localPort, { type: 'application/dtmf-relay', text: 'Signal=5\r\nDuration=160\r\n' }));
  expect(await pressed).toEqual(['5', 160]);
  await client.response(200, 'INFO');

  const bye = once(dialog, 'bye');
  client.send(calleeRequest('BYE', invite, 'callee', 3, client.localPort));
  await bye;
  await client.response(200, 'BYE');
  expect(client.count(isRequest('BYE'))).toBe(0);
});

it('reports the loss of the TCP connection its dialog lives on', async () => {
  backend = await startBackend();
  let trunk: net.Socket | undefined;
  const server = net.createServer((socket) => {
    trunk = socket;
    const framer = new StreamFramer(65_536);
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type !== 'message') continue;
        const parsed = parseMessage(event.data);
        if (parsed.ok && parsed.message.kind === 'request' && parsed.message.method === 'INVITE') {
          socket.write(reply(parsed.message, '200 OK', 'callee', ['Contact: <sip:peer@127.0.0.1:1;transport=tcp>'], SDP));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const [dialog] = await answered(backend.dial(dialRequest(`sip:127.0.0.1:${port};transport=tcp`)));
    const lost = once(dialog, 'lost');
    trunk!.destroy();
    await lost;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
