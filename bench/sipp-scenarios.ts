// The SIPp scenarios of the bench: Exotel-shaped calls (as test/sipp/exotel-inbound.xml) over UDP.

/** How the caller's RTP is sent: SIPp's play_pcap_audio (raw socket, one per call) or rtp_stream (one UDP socket). */
export type CallerRtp = 'pcap' | 'stream';

const FROM = '"+918888888888" <sip:+918888888888@exotelt.pstn.exotel.com>;tag=bench-[pid]-[call_number]';

/** The INVITE's branch, spelled out: the ACK of a final non-2xx response belongs to its transaction and repeats it. */
const INVITE_BRANCH = 'z9hG4bK-[pid]-[call_number]-invite';
const REQUEST_URI = 'sip:+911234567890@[remote_ip]:[remote_port];transport=[transport]';

/** With `onRefused`, a 503 goes to that label instead of failing the call. */
function invite(mediaPort: string, onRefused?: string): string {
  return `
  <send retrans="500">
    <![CDATA[
INVITE ${REQUEST_URI} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${INVITE_BRANCH};rport
From: ${FROM}
To: <sip:+911234567890@[remote_ip]:[remote_port]>
Contact: <sip:+918888888888@[local_ip]:[local_port];transport=[transport]>
Call-ID: [call_id]
CSeq: 1 INVITE
Max-Forwards: 70
X-Exotel-CallSid: bench-[pid]-[call_number]
X-Exotel-AccountSid: bench-account
X-Customer-Header: salesbot
Content-Type: application/sdp
Content-Length: [len]

v=0
o=root 1683048786 1683048786 IN IP4 [media_ip]
s=Exotel
c=IN IP4 [media_ip]
t=0 0
m=audio ${mediaPort} RTP/AVP 8 0 96
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-15
a=sendrecv
a=ptime:20

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>${onRefused ? `
  <recv response="503" optional="true" next="${onRefused}"/>` : ''}
  <recv response="200" rtd="true" rrs="true"/>`;
}

/** The ACK of a 503, then a `refused <call number>` line in SIPp's log of <log> actions (-trace_logs). */
function refusedEnd(label: string): string {
  return `
  <nop next="end"/>
  <label id="${label}"/>
  <send>
    <![CDATA[
ACK ${REQUEST_URI} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${INVITE_BRANCH};rport
From: ${FROM}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <nop><action><log message="refused [call_number]"/></action></nop>
  <label id="end"/>`;
}

function inDialog(method: 'ACK' | 'BYE', cseq: number): string {
  return `
  <send${method === 'BYE' ? ' retrans="500"' : ''}>
    <![CDATA[
${method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: ${FROM}
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: ${cseq} ${method}
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>`;
}

function scenario(name: string, body: string, tail = ''): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="${name}">${body}
  <recv response="200" crlf="true"/>${tail}
</scenario>
`;
}

/**
 * A call that sends the caller's audio from the ACK on and hangs up after SIPp's -d milliseconds. `media` is the
 * pcap file (pcap) or the raw PCMA file SIPp loops (stream). `refusable`: a 503 is acknowledged and logged as
 * `refused <call number>` (see refusedEnd) instead of failing the call.
 */
export function mediaCallScenario(rtp: CallerRtp, media: string, refusable = false): string {
  // [auto_media_port+4]: call n gets port -mp + 4n, never -mp or -mp+2, which SIPp binds and never reads.
  const port = rtp === 'pcap' ? '[auto_media_port+4]' : '[media_port]';
  const play = rtp === 'pcap' ? `play_pcap_audio="${media}"` : `rtp_stream="${media},-1,8"`;
  return scenario(
    'bench call with media',
    `${invite(port, refusable ? 'refused' : undefined)}${inDialog('ACK', 1)}
  <nop><action><exec ${play}/></action></nop>
  <pause/>${inDialog('BYE', 2)}`,
    refusable ? refusedEnd('refused') : '',
  );
}

/** A call set up and hung up at once, without media: INVITE, 200, ACK, BYE, 200. */
export function shortCallScenario(): string {
  return scenario('bench call setup', `${invite('[media_port]')}${inDialog('ACK', 1)}${inDialog('BYE', 2)}`);
}
