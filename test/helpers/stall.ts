// Holds up this thread's event loop the way an overloaded process does, but asleep: no CPU is burnt, so test files
// running beside it are not slowed down.
const cell = new Int32Array(new SharedArrayBuffer(4));

export function stallEventLoop(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}

/** Stalls the event loop for `ms` every `everyMs` until the returned function is called. */
export function hogEventLoop(ms: number, everyMs: number): () => void {
  const hog = setInterval(() => stallEventLoop(ms), everyMs);
  return () => clearInterval(hog);
}
