// Runs SIPp (Debian's sip-tester) as the carrier, with scenarios written for each test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SippResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every SIP message SIPp sent and received (its -trace_msg log). */
  readonly messages: string;
  readonly errors: string;
}

export interface SippRun {
  /** Scenario file path, or XML text written to a temporary file. */
  readonly scenario: { readonly file: string } | { readonly xml: string };
  readonly transport: 'u1' | 't1';
  readonly target: { readonly host: string; readonly port: number };
  /** Whole-run bound; SIPp is killed past it. */
  readonly timeoutMs?: number;
  readonly extraArgs?: readonly string[];
}

export async function runSipp(run: SippRun): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const scenario = 'file' in run.scenario ? run.scenario.file : join(dir, 'scenario.xml');
  if ('xml' in run.scenario) writeFileSync(scenario, run.scenario.xml);
  const messageFile = join(dir, 'messages.log');
  const errorFile = join(dir, 'errors.log');
  const timeoutMs = run.timeoutMs ?? 30_000;
  const args = [
    `${run.target.host}:${run.target.port}`,
    '-sf', scenario,
    '-t', run.transport,
    '-m', '1',
    '-i', '127.0.0.1',
    '-mi', '127.0.0.1',
    '-ci', '127.0.0.1',
    '-bind_local',
    '-nostdin',
    '-timeout', `${Math.ceil(timeoutMs / 1000)}s`,
    '-timeout_error',
    '-trace_msg', '-message_file', messageFile,
    '-trace_err', '-error_file', errorFile,
    ...(run.extraArgs ?? []),
  ];
  const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(kill);
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return { code, stdout, stderr, messages: read(messageFile), errors: read(errorFile) };
}

/** The SIP messages of a trace, each as text, in the order SIPp logged them. */
export function tracedMessages(result: SippResult): string[] {
  return result.messages
    .split(/^-{5,}.*$/m)
    .map((block) => block.replace(/^\s*(UDP|TCP) message (sent|received).*$/m, '').trim())
    .filter((block) => /^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/m.test(block))
    .map((block) => block.slice(block.search(/(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/)));
}

// ---- Scenario building -------------------------------------------------------------------------------------

export interface CallScenario {
  /** SDP offer lines (without the final CRLF). Defaults to Exotel's offer for a media port. */
  readonly sdp: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** false leaves out Exotel's X-Exotel-* identity headers, as a PBX that calls the bridge directly does. */
  readonly exotelHeaders?: boolean;
  /** Scenario steps after the ACK of an answered call (see playDtmf, playPcap, sendInfo, pause). */
  readonly afterAck?: string;
  /** What happens after the INVITE. */
  readonly flow:
    | { readonly kind: 'hangup'; readonly afterMs: number }
    | { readonly kind: 'await-bye'; readonly timeoutMs: number }
    | { readonly kind: 'reject'; readonly status: number }
    | { readonly kind: 'cancel'; readonly afterMs: number };
}

const INVITE_BRANCH = 'z9hG4bK-inv-[pid]-[call_number]';
const FROM = '"+918888888888" <sip:+918888888888@exotelt.pstn.exotel.com>;tag=exo-[pid]-[call_number]';

const EXOTEL_HEADERS = `X-Exotel-CallSid: sipp-call-[pid]-[call_number]
X-Exotel-AccountSid: sipp-account
X-Exotel-LegSid: sipp-leg-[call_number]
X-Exotel-TrunkSid: sipp-trunk
`;

function invite(scenario: CallScenario): string {
  const headers = (scenario.headers ?? []).map(([n, v]) => `${n}: ${v}\n`).join('');
  return `
  <send retrans="500">
    <![CDATA[
INVITE sip:+911234567890@[remote_ip]:[remote_port];transport=[transport] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${INVITE_BRANCH};rport
From: ${FROM}
To: <sip:+911234567890@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:+918888888888@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
${scenario.exotelHeaders === false ? '' : EXOTEL_HEADERS}${headers}Content-Type: application/sdp
Content-Length: [len]

${scenario.sdp}

    ]]>
  </send>
${
    // SIPp needs a mandatory <recv> before a <pause>: before a CANCEL we wait for the 100 Trying we know comes.
    scenario.flow.kind === 'cancel'
      ? '  <recv response="100"/>'
      : '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n  <recv response="183" optional="true"/>'
  }`;
}

/**
 * A request SIPp sends: in the dialog (the default: [next_url], [last_To:] and the route set), or, for CANCEL and
 * the ACK of a non-2xx, on the INVITE's own branch and Request-URI (RFC 3261 9.1, 17.1.1.3).
 */
function request(method: string, cseq: number, options: { sameBranchAsInvite?: boolean; to?: string; body?: { type: string; text: string } } = {}): string {
  const retrans = method === 'ACK' || method === 'CANCEL' ? '' : ' retrans="500"';
  const outsideDialog = options.sameBranchAsInvite;
  return `
  <send${retrans}>
    <![CDATA[
${method} ${outsideDialog ? 'sip:+911234567890@[remote_ip]:[remote_port];transport=[transport]' : '[next_url]'} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${outsideDialog ? INVITE_BRANCH : '[branch]'};rport
From: ${FROM}
${options.to ?? '[last_To:]'}
${outsideDialog ? '' : '[routes]\n'}Call-ID: [call_id]
CSeq: ${cseq} ${method}
Max-Forwards: 70
${options.body ? `Content-Type: ${options.body.type}\nContent-Length: [len]\n\n${options.body.text}` : 'Content-Length: 0\n'}
    ]]>
  </send>`;
}

const ACK_2XX = request('ACK', 1);
const ACK_NON_2XX = request('ACK', 1, { sameBranchAsInvite: true });
/** 200 to the request last received (a BYE or a CANCEL), with its To as it came. */
export const OK_TO_LAST = `
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>`;

/** RFC 2833 key presses on PT 96, played by SIPp itself (raw socket: needs root). */
export const playDtmf = (digits: string, toneMs = 100) => `
  <nop><action><exec play_dtmf="${digits},${toneMs}"/></action></nop>`;

/** RTP packets from a capture file, sent from SIPp's media port (raw socket: needs root). */
export const playPcap = (file: string) => `
  <nop><action><exec play_pcap_audio="${file}"/></action></nop>`;

export const pause = (ms: number) => `
  <pause milliseconds="${ms}"/>`;

/** An in-dialog INFO (CSeq below the scenario's BYE) and its 200. */
export const sendInfo = (cseq: number, contentType: string, body: string) => `${request('INFO', cseq, { body: { type: contentType, text: body } })}
  <recv response="200"/>`;

export function callScenario(scenario: CallScenario): string {
  const { flow } = scenario;
  let body = invite(scenario);
  switch (flow.kind) {
    case 'hangup':
      body += `
  <recv response="200" rrs="true"/>${ACK_2XX}${scenario.afterAck ?? ''}
  <pause milliseconds="${flow.afterMs}"/>${request('BYE', 100)}
  <recv response="200" crlf="true"/>`;
      break;
    case 'await-bye':
      body += `
  <recv response="200" rrs="true"/>${ACK_2XX}${scenario.afterAck ?? ''}
  <recv request="BYE" timeout="${flow.timeoutMs}"/>${OK_TO_LAST}`;
      break;
    case 'reject':
      body += `
  <recv response="${flow.status}"/>${ACK_NON_2XX}`;
      break;
    case 'cancel':
      body += `
  <pause milliseconds="${flow.afterMs}"/>${request('CANCEL', 1, { sameBranchAsInvite: true, to: 'To: <sip:+911234567890@[remote_ip]:[remote_port]>' })}
  <recv response="200"/>
  <recv response="487"/>${ACK_NON_2XX}`;
      break;
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bridge-test">${body}
  <timewait milliseconds="200"/>
</scenario>
`;
}
