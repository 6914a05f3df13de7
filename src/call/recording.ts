// A call's stream policy (listen-only, recording) and its recording's life after the call: the leg records it, the
// call uploads it (PUT, retried as webhooks are) and then removes it when it need not stay on disk.
import { readFile, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import { safeFileName, type RecordingChannels, type RecordingResult } from '../media/index.js';
import { Deliveries, type DeliveryOptions } from './delivery.js';

export interface RecordingSettings {
  readonly dir: string;
  readonly channels: RecordingChannels;
  readonly format: 'wav';
  readonly flushMs: number;
  /** `{call_sid}` is replaced by the call's sanitised sid. */
  readonly upload?: string;
  readonly keepLocal: boolean;
}

/** What a route asks of its calls' media beyond the bot's stream. */
export interface StreamPolicy {
  /** The bot hears the caller; the caller hears silence whatever the bot sends. */
  readonly listenOnly: boolean;
  readonly recording?: RecordingSettings;
}

/** The recording of a call, as the post-call report gives it. */
export type RecordingReport = RecordingResult;

export type UploadResult = 'uploaded' | 'failed';

/** PUTs finished recordings; like the webhook sender, it runs after the call and is bounded by the bridge's stop. */
export class RecordingUploader {
  readonly #deliveries: Deliveries;

  constructor(
    private readonly options: DeliveryOptions & { readonly log: Logger },
    private readonly onResult?: (result: UploadResult) => void,
  ) {
    this.#deliveries = new Deliveries(options);
  }

  /** Starts uploading the call's recording when its settings ask for it; returns at once. */
  send(settings: RecordingSettings | undefined, callSid: string, recording: RecordingReport | undefined): void {
    if (!settings?.upload || !recording || recording.bytes === 0) return;
    const url = settings.upload.replaceAll('{call_sid}', safeFileName(callSid));
    const log = this.options.log.child({ call_sid: callSid });
    const job = this.#upload(url, recording.path, log)
      .then(async (result) => {
        this.onResult?.(result);
        if (result === 'uploaded' && !settings.keepLocal) await unlink(recording.path).catch((err: Error) => log.warn({ err: err.message }, 'recording uploaded but not removed'));
      });
    this.#deliveries.track(job);
  }

  /** Waits for uploads in flight for up to `timeoutMs`, then abandons the rest. */
  close(timeoutMs: number): Promise<void> {
    return this.#deliveries.close(timeoutMs);
  }

  async #upload(url: string, path: string, log: Logger): Promise<UploadResult> {
    const shown = url.replace(/\?.*$/, '');
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      log.error({ path, err: (err as Error).message }, 'recording not uploaded: cannot read it');
      return 'failed';
    }
    const outcome = await this.#deliveries.deliver(
      { url, method: 'PUT', headers: { 'content-type': 'audio/wav', 'user-agent': 'sip-ws-bridge' }, body },
      (attempt, reason) => log.warn({ upload: shown, attempt, reason }, 'recording upload attempt failed'),
    );
    if (outcome.ok) {
      log.info({ upload: shown, bytes: body.length, attempt: outcome.attempt }, 'recording uploaded');
      return 'uploaded';
    }
    log.error({ upload: shown, reason: outcome.problem || 'the bridge is stopping' }, 'recording not uploaded; the local file stays');
    return 'failed';
  }
}
