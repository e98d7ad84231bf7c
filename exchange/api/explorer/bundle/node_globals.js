// Node globals some circomlibjs dependencies (readable-stream via blake-hash) expect.
import { Buffer } from "buffer";
export const process = { env: {}, browser: true, version: "", versions: {}, nextTick: (fn, ...args) => queueMicrotask(() => fn(...args)) };
export { Buffer };
