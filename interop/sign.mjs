// sign.mjs: generate RS256, ES256 and EdDSA key pairs with jose and sign
// access tokens with them. It serves nothing: it prints the public JWKS and
// the tokens, and the caller publishes the JWKS itself.
//
// stdin:  {"issuer": "...", "audience": "...", "subject": "..."} (all optional)
// stdout: {"jwks": {"keys": [...]},
//          "tokens": [{"alg": "RS256", "kind": "good", "sub": "...", "token": "..."}, ...]}
// kinds per key (alg names the key; the token's own alg may differ):
//   good             signed with the key
//   tampered         payload changed after signing
//   expired          exp an hour ago
//   wrong-audience   aud "some-other-api"
//   hs256-secret     HS256 with a random 256-bit secret, the key's kid
//   hs256-public-key HS256 with the key's SPKI PEM as the secret (alg confusion), the key's kid
//   alg-none         jose's UnsecuredJWT: header {"alg":"none"}, empty signature
//   alg-none-kid     header {"alg":"none","kid":...,"typ":"at+jwt"}, empty signature
//   typ-jwt          signed with the key, header typ "JWT" (what JWT guides and most
//                    Node services set)
//   typ-none         signed with the key, no typ header (SignJWT's default)
import { randomBytes, randomUUID } from 'node:crypto';
import {
  SignJWT, UnsecuredJWT, base64url, calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair,
} from 'jose';
import { fail, readStdinJSON } from './lib.mjs';

const ALGS = ['RS256', 'ES256', 'EdDSA'];

function claims(builder, { issuer, audience, subject, iat, exp }) {
  return builder
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID());
}

// sign signs an access token; typ null leaves the header without typ, as
// SignJWT does unless told otherwise.
async function sign(key, kid, alg, c, typ = 'at+jwt') {
  const header = { alg, kid };
  if (typ !== null) header.typ = typ;
  return claims(new SignJWT({ scope: 'read' }), c)
    .setProtectedHeader(header)
    .sign(key);
}

// tamper swaps the payload of a signed token for one with another subject,
// keeping the header and signature.
function tamper(token) {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
  payload.sub = 'mallory';
  return [h, base64url.encode(JSON.stringify(payload)), s].join('.');
}

// unsigned builds {"alg":"none"} tokens: one from jose's UnsecuredJWT, one by
// hand with the header a sessionkit token carries.
function unsigned(kid, c) {
  const plain = claims(new UnsecuredJWT({ scope: 'read' }), c).encode();
  const payload = plain.split('.')[1];
  const header = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'at+jwt' }));
  return { plain, withKid: `${header}.${payload}.` };
}

async function main() {
  const input = await readStdinJSON();
  const issuer = input.issuer ?? 'https://node-issuer.test';
  const audience = input.audience ?? 'api';
  const subject = input.subject ?? 'node-user';
  const now = Math.floor(Date.now() / 1000);
  const keys = [];
  const tokens = [];
  const add = (alg, kind, token, sub = subject) => tokens.push({ alg, kind, sub, token });
  for (const alg of ALGS) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    keys.push({ ...jwk, kid, alg, use: 'sig' });
    const base = { issuer, audience, subject, iat: now, exp: now + 900 };
    const good = await sign(privateKey, kid, alg, base);
    add(alg, 'good', good);
    add(alg, 'tampered', tamper(good), 'mallory');
    add(alg, 'expired', await sign(privateKey, kid, alg, { ...base, iat: now - 7200, exp: now - 3600 }));
    add(alg, 'wrong-audience', await sign(privateKey, kid, alg, { ...base, audience: 'some-other-api' }));
    add(alg, 'hs256-secret', await sign(new Uint8Array(randomBytes(32)), kid, 'HS256', base));
    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    add(alg, 'hs256-public-key', await sign(pem, kid, 'HS256', base));
    const none = unsigned(kid, base);
    add(alg, 'alg-none', none.plain);
    add(alg, 'alg-none-kid', none.withKid);
    add(alg, 'typ-jwt', await sign(privateKey, kid, alg, base, 'JWT'));
    add(alg, 'typ-none', await sign(privateKey, kid, alg, base, null));
  }
  process.stdout.write(JSON.stringify({ jwks: { keys }, tokens }) + '\n');
}

main().catch(fail);
