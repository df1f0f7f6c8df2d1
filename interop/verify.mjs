// verify.mjs: verify access tokens with jose against a remote JWKS.
//
// stdin:  {"jwksUrl": "http://127.0.0.1:port/.well-known/jwks.json",
//          "issuer": "...", "audience": "..." | [...], "tokens": ["...", ...],
//          "currentDate": unix seconds (optional; default: the real clock)}
// stdout: one JSON array, one entry per token, in order:
//          {"ok": true, "sub": "...", "kid": "...", "alg": "..."} or
//          {"ok": false, "code": "ERR_...", "claim": "...", "message": "..."}
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { assertLoopback, fail, readStdinJSON } from './lib.mjs';

async function main() {
  const input = await readStdinJSON();
  if (typeof input.jwksUrl !== 'string' || typeof input.issuer !== 'string' ||
      input.audience === undefined || !Array.isArray(input.tokens)) {
    throw new Error('stdin must be {jwksUrl, issuer, audience, tokens[]}');
  }
  const jwks = createRemoteJWKSet(assertLoopback(input.jwksUrl), { timeoutDuration: 5000 });
  const options = {
    issuer: input.issuer,
    audience: input.audience,
    typ: 'at+jwt',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    requiredClaims: ['exp', 'iat', 'sub', 'jti'],
  };
  if (input.currentDate !== undefined) options.currentDate = new Date(input.currentDate * 1000);
  const results = [];
  for (const token of input.tokens) {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, options);
      results.push({ ok: true, sub: payload.sub, kid: protectedHeader.kid, alg: protectedHeader.alg });
    } catch (err) {
      results.push({ ok: false, code: err.code || err.name || 'ERROR', claim: err.claim, message: String(err.message) });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch(fail);
