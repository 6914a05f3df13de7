// SIPp as the trunk an outbound call goes to (a UAS scenario): it answers the bridge's INVITE by a fixed flow.
import { createSocket } from 'node:dgram';
import net from 'node:net';
import { OK_TO_LAST, runSipp, type SippResult } from './sipp.js';

export type TrunkFlow =
  /**
   * 180 (and with `earlyMedia` a 183 with the SDP), then 200 with an SDP answer (PCMA + telephone-event 101) pointing
   * at `rtpPort`; then the trunk hangs up.
   */
  | { readonly kind: 'answer-hangup'; readonly rtpPort: number; readonly afterMs: number; readonly earlyMedia?: boolean }
  /** As above, but the trunk waits for the bridge's BYE. */
  | { readonly kind: 'answer-await-bye'; readonly rtpPort: number; readonly timeoutMs: number }
  /** 180, then a final status. */
  | { readonly kind: 'reject'; readonly status: number; readonly phrase: string }
  /** 180, then nothing until the bridge's CANCEL (answered 200, then 487). */
  | { readonly kind: 'ring-until-cancel'; readonly timeoutMs: number };

/** The trunk's response to the request it last received, with a To tag of its own except on 100; with `body` an SDP. */
export const trunkResponse = (status: string, extra = '', body?: string) => `
  <send${status.startsWith('200') ? ' retrans="500"' : ''}>
    <![CDATA[
SIP/2.0 ${status}
[last_Via:]
[last_From:]
${status.startsWith('100') ? '[last_To:]' : '[last_To:];tag=[pid]trunk[call_number]'}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:trunk@[local_ip]:[local_port];transport=[transport]>
${extra}${body === undefined ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${body}`}
    ]]>
  </send>`;

/** The trunk's SDP: PCMA and telephone-event 101 at `rtpPort` on loopback; `lines` are added before a=ptime. */
export const trunkSdp = (rtpPort: number, { version = 1, profile = 'RTP/AVP', direction = 'sendrecv', lines = [] as readonly string[] } = {}) => `v=0
o=- 42 ${version} IN IP4 127.0.0.1
s=trunk
c=IN IP4 127.0.0.1
t=0 0
m=audio ${rtpPort} ${profile} 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
${lines.map((line) => `${line}\n`).join('')}a=ptime:20
a=${direction}
`;

/** The captures TRUNK_BYE needs, for the INVITE's <action>. */
export const CAPTURE_FROM_TO = `
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="bridge_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="bridge_to"/>`;

/** The trunk hangs up: BYE in the dialog (From/To captured from the INVITE as bridge_from/bridge_to), then its 200. */
export const TRUNK_BYE = `
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$bridge_to];tag=[pid]trunk[call_number]
To: [$bridge_from]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>`;

export function trunkScenario(flow: TrunkFlow): string {
  // SIPp refuses a scenario with a variable it never uses: each flow captures what it needs.
  const captures = {
    'answer-hangup': ['From:bridge_from', 'To:bridge_to'],
    'answer-await-bye': [],
    reject: [],
    'ring-until-cancel': ['CSeq:invite_cseq'],
  }[flow.kind].map((c) => {
    const [header, name] = c.split(':');
    return `\n      <ereg regexp=".*" search_in="hdr" header="${header}:" assign_to="${name}"/>`;
  });
  let body = `
  <recv request="INVITE" rrs="true">${captures.length ? `\n    <action>${captures.join('')}\n    </action>\n  ` : ''}</recv>${trunkResponse('100 Trying')}${trunkResponse('180 Ringing')}
  <pause milliseconds="200"/>`;
  switch (flow.kind) {
    case 'answer-hangup':
      if (flow.earlyMedia) body += `${trunkResponse('183 Session Progress', '', trunkSdp(flow.rtpPort))}
  <pause milliseconds="500"/>`;
      body += `${trunkResponse('200 OK', '', trunkSdp(flow.rtpPort))}
  <recv request="ACK"/>
  <pause milliseconds="${flow.afterMs}"/>${TRUNK_BYE}`;
      break;
    case 'answer-await-bye':
      body += `${trunkResponse('200 OK', '', trunkSdp(flow.rtpPort))}
  <recv request="ACK"/>
  <recv request="BYE" timeout="${flow.timeoutMs}"/>${OK_TO_LAST}`;
      break;
    case 'reject':
      body += `${trunkResponse(`${flow.status} ${flow.phrase}`)}
  <recv request="ACK"/>`;
      break;
    case 'ring-until-cancel':
      body += `
  <recv request="CANCEL" timeout="${flow.timeoutMs}"/>${OK_TO_LAST}
  <send>
    <![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]trunk[call_number]
[last_Call-ID:]
CSeq: [$invite_cseq]
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>`;
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunk ${flow.kind}">${body}
</scenario>
`;
}

/** A UDP port free now, for SIPp to listen on. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Whether something listens on the port: we cannot bind it ourselves. */
async function bound(port: number, transport: 'udp' | 'tcp'): Promise<boolean> {
  if (transport === 'tcp') {
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) await new Promise<void>((resolve) => server.close(() => resolve()));
    return !free;
  }
  const socket = createSocket('udp4');
  const free = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise<void>((resolve) => socket.close(() => resolve()));
  return !free;
}

/**
 * Resolves once SIPp listens on `port`: a request sent before would meet an ICMP port unreachable (or a refused
 * connection) and end the call at once.
 */
export async function untilListening(port: number, transport: 'udp' | 'tcp' = 'udp', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await bound(port, transport))) {
    if (Date.now() > deadline) throw new Error(`SIPp not listening on ${transport} ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts SIPp as a UAS on `port` running `flow` (or a scenario file) for `calls` calls; resolves when it exits. */
export function runTrunk(
  port: number,
  flow: TrunkFlow | { readonly file: string },
  timeoutMs = 20_000,
  calls = 1,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<SippResult> {
  return runSipp({
    scenario: 'file' in flow ? flow : { xml: trunkScenario(flow) },
    transport: transport === 'tcp' ? 't1' : 'u1',
    // SIPp needs a remote address even as a UAS; it answers wherever requests come from.
    target: { host: '127.0.0.1', port: 9 },
    timeoutMs,
    extraArgs: ['-p', String(port), '-m', String(calls)],
  });
}

/** When SIPp received each request with `method` (first of each Call-ID), from its message trace, in ms. */
export function receivedAt(result: SippResult, method: string): number[] {
  const seen = new Set<string>();
  const times: number[] = [];
  const blockPattern = /^-+ (\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d\.\d+)\n\w+ message received[^\n]*\n\n([^\n]*)\n([\s\S]*?)(?=^-{5,}|(?![\s\S]))/gm;
  for (const [, , h, m, sec, startLine, rest] of result.messages.matchAll(blockPattern)) {
    if (!startLine!.startsWith(`${method} `)) continue;
    const callId = /^Call-ID:\s*(.*)$/im.exec(rest!)?.[1]?.trim() ?? '';
    if (seen.has(callId)) continue;
    seen.add(callId);
    times.push(((Number(h) * 60 + Number(m)) * 60 + Number(sec)) * 1000);
  }
  return times;
}
