// A webhook receiver for tests: records each POST (JSON) and answers with the next status it was given.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallRecord, CallReport } from '../../src/call/index.js';

/** A post-call report or a status event (the record, and for the final one the report too). */
export type WebhookBody = CallReport & Partial<CallRecord> & { readonly event?: string };

/** A webhook receiver: records each POST and answers with the next status in `statuses` (200 when they run out). */
export class WebhookServer {
  readonly posts: Array<{ path: string; headers: http.IncomingHttpHeaders; body: WebhookBody }> = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(statuses: number[] = [], hang = false): Promise<WebhookServer> {
    let webhook: WebhookServer | undefined;
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        webhook!.posts.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as WebhookBody });
        if (!hang) res.writeHead(statuses.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    webhook = new WebhookServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return webhook;
  }

  async until(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.posts.length < count) {
      if (Date.now() > deadline) throw new Error(`webhook: ${this.posts.length} of ${count} posts within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The post-call report of the call whose (caller's) SIP Call-ID is `sipCallId`, once it has come. */
  async reportFor(sipCallId: string, timeoutMs = 5000): Promise<WebhookBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const post = this.posts.find((p) => p.body.sip_call_id === sipCallId);
      if (post) return post.body;
      if (Date.now() > deadline) throw new Error(`webhook: no report for ${sipCallId} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

