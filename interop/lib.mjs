// Helpers shared by verify.mjs and sign.mjs.

// readStdinJSON reads all of stdin and parses it as JSON ({} when empty).
export async function readStdinJSON() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text === '' ? {} : JSON.parse(text);
}

// assertLoopback refuses any URL but plain http on 127.0.0.1: the interop
// scripts never touch the network beyond it.
export function assertLoopback(raw) {
  const u = new URL(raw);
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') {
    throw new Error(`refusing ${u.protocol}//${u.hostname}: only http://127.0.0.1 is allowed`);
  }
  return u;
}

// fail prints a message and exits non-zero.
export function fail(err) {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
}
