// The SIPp UAS scenario of a trunk an outbound call goes to, as XML text: the tests' trunks and the bench's (no vitest
// here: bench/ compiles it too).
import { OK_TO_LAST } from './sipp.js';

export type TrunkFlow =
  /**
   * 180 (and with `earlyMedia` a 183 with the SDP), then 200 with an SDP answer (PCMA + telephone-event 101) pointing
   * at `rtpPort`; then the trunk hangs up `afterMs` after the ACK. `ring: false`: the 200 at once, without 100, 180
   * and the 200 ms ring (the bench's trunk, which measures setups).
   */
  | { readonly kind: 'answer-hangup'; readonly rtpPort: number; readonly afterMs: number; readonly earlyMedia?: boolean; readonly ring?: boolean }
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
  const ring = flow.kind !== 'answer-hangup' || flow.ring !== false;
  let body = `
  <recv request="INVITE" rrs="true">${captures.length ? `\n    <action>${captures.join('')}\n    </action>\n  ` : ''}</recv>`;
  if (ring) body += `${trunkResponse('100 Trying')}${trunkResponse('180 Ringing')}
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
