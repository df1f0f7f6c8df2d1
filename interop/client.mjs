// client.mjs: a Node service authenticating to sessionkit's token endpoint
// with jose, as RFC 7523 describes.
//
// stdin {"op": "keygen", "alg": "ES256"}
//   stdout {"publicJwk": {...}, "privateJwk": {...}}: a fresh key pair; the
//   caller registers the public half and hands the private half back.
// stdin {"op": "run", "privateJwk": {...}, "alg": "...", "clientId": "...",
//        "issuer": "...", "tokenUrl": "...", "apiUrl": "..."}
//   signs one assertion (iss = sub = clientId, aud = issuer, exp in 60 s, a
//   random jti), trades it at tokenUrl, calls apiUrl with the token, then
//   presents the same assertion again.
//   stdout {"token": {"status", "body"}, "api": {"status", "body"},
//           "replay": {"status", "body"}, "noToken": {"status"}}
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import { assertLoopback, fail, readStdinJSON } from './lib.mjs';

async function keygen(alg) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
  };
}

async function post(url, form) {
  const res = await fetch(assertLoopback(url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'error',
  });
  return { status: res.status, body: await res.json() };
}

async function get(url, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(assertLoopback(url), { headers, redirect: 'error' });
  return { status: res.status, body: await res.text() };
}

async function run(input) {
  const key = await importJWK(input.privateJwk, input.alg);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: input.alg, kid: input.privateJwk.kid, typ: 'JWT' })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(input.issuer)
    .setIssuedAt()
    .setExpirationTime('60s')
    .setJti(randomUUID())
    .sign(key);
  const grant = { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion };
  const token = await post(input.tokenUrl, grant);
  const api = await get(input.apiUrl, token.body.access_token);
  const replay = await post(input.tokenUrl, grant);
  const noToken = await get(input.apiUrl, '');
  return { token, api, replay, noToken: { status: noToken.status } };
}

async function main() {
  const input = await readStdinJSON();
  if (input.op === 'keygen') return keygen(input.alg);
  if (input.op === 'run') return run(input);
  throw new Error('stdin op must be keygen or run');
}

main().then((out) => process.stdout.write(JSON.stringify(out) + '\n'), fail);
