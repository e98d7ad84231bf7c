// Stand-in for Node's "assert" in the browser bundle: circomlibjs only calls assert(cond).
export default function assert(condition, message) {
  if (!condition) throw new Error(message || "assertion failed");
}
