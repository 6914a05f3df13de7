// The part of rtpengine-client 0.4 (which ships no types) that the bridge uses: the UDP ng client.
declare module 'rtpengine-client' {
  import { EventEmitter } from 'node:events';

  export type NgResponse = { result: 'ok' | 'pong' | 'error' | string; 'error-reason'?: string; sdp?: string; calls?: string[]; [key: string]: unknown };

  export class Client extends EventEmitter {
    constructor(options: { localPort?: number; localAddress?: string; timeout?: number });
    offer(port: number, host: string, params: Record<string, unknown>): Promise<NgResponse>;
    answer(port: number, host: string, params: Record<string, unknown>): Promise<NgResponse>;
    delete(port: number, host: string, params: Record<string, unknown>): Promise<NgResponse>;
    list(port: number, host: string, params?: Record<string, unknown>): Promise<NgResponse>;
    query(port: number, host: string, params: Record<string, unknown>): Promise<NgResponse>;
    ping(port: number, host: string): Promise<NgResponse>;
    close(): void;
  }
}
