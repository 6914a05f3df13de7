// Preloaded into a bridge process and each of its media worker threads (NODE_OPTIONS=--import=..., with --expose-gc):
// SIGUSR2 makes the main thread run a full garbage collection and tell every worker to run one too, so a test can read
// each thread's live heap (the workers' in their next stats report, within a second).
import { isMainThread } from 'node:worker_threads';

const channel = new BroadcastChannel('sip-ws-bridge-test-gc');
channel.unref();
if (isMainThread) {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    channel.postMessage('gc');
  });
} else {
  channel.onmessage = () => globalThis.gc();
}
