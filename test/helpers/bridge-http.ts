// The bridge's HTTP endpoints as a test reads them: /health's status and counts, /metrics as numbers.
import http from 'node:http';

export interface BridgeHealth {
  readonly status: 'ok' | 'draining' | 'down';
  readonly accepting: boolean;
  /** Why the bridge cannot take calls (a backend down); empty when it can. */
  readonly reasons: readonly string[];
  readonly activeCalls: number;
  readonly rtpPortsInUse: number;
  readonly clockListeners: number;
  /** Each media host's load: one entry in-process. */
  readonly media: ReadonlyArray<{ readonly name: string; readonly legs: number; readonly rtpPortsInUse: number; readonly heapUsedBytes: number; readonly up: boolean }>;
  readonly sip: { readonly dialogs: number; readonly pendingInvites: number; readonly transactions: number; readonly connections: number };
}

/** A GET on a connection of its own, closed after the response, so no idle keep-alive socket skews counts. */
function get(httpPort: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: httpPort, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

/** GET /health: its status code and JSON body. */
export async function health(httpPort: number): Promise<{ status: number; body: BridgeHealth }> {
  const { status, text } = await get(httpPort, '/health');
  return { status, body: JSON.parse(text) as BridgeHealth };
}

/**
 * /health once nothing is left in progress (calls, ports, open legs, dialogs, INVITEs, transactions, connections),
 * or as it is at `timeoutMs`: the caller's expectations say what remained.
 */
export async function idleHealth(httpPort: number, timeoutMs: number): Promise<BridgeHealth> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await health(httpPort);
    const { sip } = body;
    const busy = body.activeCalls + body.rtpPortsInUse + body.clockListeners + sip.dialogs + sip.pendingInvites + sip.transactions + sip.connections;
    if (busy === 0 || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** GET /metrics, as a map from sample (`name{labels}`) to value. */
export async function metrics(httpPort: number): Promise<Map<string, number>> {
  const { text } = await get(httpPort, '/metrics');
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s+(\S+)$/.exec(line);
    if (match && !line.startsWith('#')) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}
