// Package sessionkit issues and checks login sessions: short-lived JWT access
// tokens, rotating refresh tokens with theft (reuse) detection, revocation and
// logout-all across devices, and a JWKS endpoint any JWT stack can verify
// against.
//
// An application authenticates the user itself (password, passkey, SSO) and
// then calls [Issuer.Login]. From there sessionkit owns the session:
//
//	key, _ := sessionkit.GenerateSigningKey(sessionkit.RS256)
//	iss, err := sessionkit.New(sessionkit.Config{
//		Issuer:   "https://auth.example.com",
//		Audience: []string{"api"},
//		Keys:     sessionkit.NewKeySet(key),
//		Store:    memstore.New(),
//	})
//	toks, err := iss.Login(ctx, sessionkit.Grant{Subject: "u1"})
//	claims, err := iss.Verify(ctx, toks.AccessToken)
//	toks, err = iss.Refresh(ctx, toks.RefreshToken)
//
// # Tokens
//
// An access token is a JWS compact token (RFC 7515) signed with RS256 by
// default, or ES256 or EdDSA, with the header typ "at+jwt" (RFC 9068) and the
// key's kid, an RFC 7638 thumbprint. Its claims are iss, sub, aud, exp, iat,
// nbf, jti (128 random bits), sid (the session), ver (the subject's token
// version), scope, and the application claims of [Grant.Claims]. It lives
// [Config.AccessTTL] (15 minutes by default) and never outlives its session.
//
// A refresh token is opaque and versioned: "skr1." followed by the store's
// handle for the session and a 256-bit random secret, base64url. The store
// keeps only the secret's SHA-256 and compares it in constant time, so a copy
// of the store's data cannot be turned into a working refresh token.
//
// The [KeySet] holds the signing key and older keys that still verify. It
// serves its public keys as a JWKS document (RFC 7517) with caching headers,
// so that other services verify tokens without sharing a secret. To rotate
// across a fleet, [KeySet.Publish] the next key, wait until every
// verifier's cache has it, then [KeySet.Promote] it; [KeySet.Rotate] does
// both at once for a single process. The wait is the longest time any
// verifier keeps a JWKS, and at least [JWKSMaxAge], the max-age the JWKS is
// served with: some verifiers keep it longer whatever max-age says (jwx's
// jwk.Cache keeps it at least 15 minutes by default) and not all refetch
// when a token names a kid they lack; a sessionkit [Verifier] does, at most
// once per [VerifierConfig.RefetchInterval]. Retire an old key only once the
// last token it signed has expired: AccessTTL plus the leeway after it
// stopped signing. Managed keys take these steps on a schedule, for a whole
// fleet (see "Keys across a fleet").
//
// # Verification
//
// [Issuer.Verify] is strict before it is clever. A token larger than
// [Config.MaxTokenSize] (8 KiB by default, at most [MaxTokenSizeLimit],
// 32 KiB) is refused before any decoding. Only the compact serialization is
// read; base64url must be canonical; header and claims are JSON objects
// without duplicate members at any depth, invalid UTF-8 or trailing bytes, and
// a header has at most 16 members and 2048 characters. Everything read before
// the signature is checked is read in time linear in its size, so the worst
// token an attacker can send costs a few signature checks (see BENCHMARKS.md).
// The algorithm must be on the allow-list, which is the algorithms of the key
// set, and must be the algorithm of the key the kid names: "none" is never
// accepted, nor HMAC without an explicitly configured secret (a Verifier
// option), so a token signed with our public key as an HMAC secret fails.
// Headers that carry or point to keys (jwk, jku, x5u, x5c), crit, zip and b64
// are refused. Then iss must match, aud must include ours, exp, nbf and iat
// are checked with a leeway (30 seconds by default, at most [MaxLeeway]).
// [Config.MaxTokenAge], when set, also bounds a token whatever its exp says:
// a lifetime (exp - iat) beyond it is invalid, and a token issued longer ago
// than it has expired.
//
// Unless [Config.SkipRevocationCheck] is set, one store read then checks the
// stateful part: the jti is not on the deny-list, the token's ver equals the
// subject's current version, and the session is still live. Errors tell the
// cases apart: [ErrInvalidToken], [ErrTokenExpired] (refreshing helps),
// [ErrTokenRevoked], [ErrStoreUnavailable].
//
// A resource server sees each access token many times in its short life,
// so Verify remembers the tokens it accepted ([Config.VerifyCacheSize],
// [VerifierConfig.VerifyCacheSize]: 16384 by default, negative for none):
// a token presented again skips the signature check and the parsing, and
// nothing else. The entry matches only the very token (compared whole,
// looked up by a seeded hash) verified with the very key set: a rotation,
// a retired key or a JWKS refetch that changed the keys drops it. Every
// presentation is checked against the clock again (exp, nbf, iat, with the
// leeway) and, unless SkipRevocationCheck is set, against the store, so a
// revocation takes effect as soon as it would without the cache; a
// refused token is never remembered, nor one above [MaxCachedTokenSize]
// (4 KiB), so memory stays bounded by the entry count. Eviction is CLOCK
// (second chance): tokens seen once leave before those presented again. A
// hit returns the same *Claims as the first verification, without
// allocating: treat claims as read-only ([Claims.Clone] to change them);
// the checks of later presentations run on the cache's own copy.
//
// # Resource servers
//
// Services that check tokens without issuing them use a [Verifier]
// ([NewVerifier]): one trusted issuer ([VerifierConfig.Issuer], with
// [VerifierConfig.JWKSURL] or alone to discover its JWKS) or several
// ([VerifierConfig.Issuers], each with a JWKS URL, a local [KeySet],
// [HMACKey] secrets, or nothing but its identifier to discover its JWKS).
// Its claim checks are Issuer.Verify's, from the same code. Given the
// issuer's store ([VerifierConfig.Store]) it also sees revocations and
// logout-all at once.
//
//	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
//		Issuer:   "https://tenant.example.com/", // JWKS discovered
//		Audience: []string{"api"},
//	})
//
// The JWKS of an issuer configured without a JWKS URL, a KeySet or HMAC
// keys is discovered: the Verifier reads the jwks_uri of the issuer's metadata at
// the issuer followed by /.well-known/openid-configuration (OpenID Connect
// Discovery 1.0 §4, any trailing "/" of the issuer removed) or, when that
// location has none (a client error other than 429), with
// /.well-known/oauth-authorization-server inserted between the host and
// the issuer's path (RFC 8414 §3). An issuer with HMAC keys alone fetches
// nothing. The document must name exactly the configured issuer, a
// trailing "/" included, or it is refused (the mix-up defence of RFC 8414
// §3.3), and its jwks_uri must pass the checks of a configured JWKS URL.
// It is fetched by the JWKS fetch that finds it missing or expired, so with
// the same single-flight, detached goroutine, rate limits, client,
// timeout and redirect rules as the JWKS (below); read as strictly, at most
// [MaxDiscoverySize] bytes; cached by its own Cache-Control, clamped alike,
// and revalidated with its ETag. A changed jwks_uri is used from the next JWKS fetch on. A
// failed discovery is logged, one record per failure, and the last good
// document keeps serving; before the first, Verify fails with
// [ErrKeysUnavailable] and the middleware answers 503.
//
// The remote JWKS is fetched on first use, with the caller's context and a
// timeout ([VerifierConfig.FetchTimeout]), over https only unless
// [VerifierConfig.InsecureAllowHTTP], following redirects only on the
// origin (scheme, host and port) of the JWKS URL, and at most [MaxJWKSSize]
// bytes. It is
// cached for the response's Cache-Control max-age, clamped between
// [VerifierConfig.MinCacheTTL] and [VerifierConfig.MaxCacheTTL] (5 minutes
// and 24 hours), then revalidated with its ETag. A token whose kid the cache
// lacks triggers a refetch at once, so a rotation at the issuer is picked up
// without a restart, even right after the cache was filled; that refetch is
// single-flight (concurrent callers share one request, each waiting only as
// long as its own context allows) and rate-limited to one per
// [VerifierConfig.RefetchInterval] (30 seconds), counting only refetches for
// unknown kids, and between two of them an unknown kid is refused at once,
// so a flood of tokens with random kids costs at most one fetch per
// interval. Refreshing an expired set, or retrying after a failure, waits an
// interval after the last fetch of any kind, so one issuer costs at most two
// fetches per interval. A failed fetch is logged and the last good key set
// keeps verifying; with no key set at all, Verify fails with
// [ErrKeysUnavailable]. The document is read as
// strictly as a token: exact member names, no duplicate members at any
// depth, valid UTF-8, canonical base64url key parameters; one that fails is
// refused whole. Keys that are not for signatures (use other than "sig",
// key_ops without "verify"), symmetric (kty "oct"), private, RSA under 2048
// bits or with a public exponent under 3 or even, EC points not on P-256,
// on another curve, or whose alg contradicts the key are skipped with a log
// line and never used. HS256, HS384 and HS512 verify only
// with secrets configured in [TrustedIssuer.HMACKeys], each at least as long
// as its hash, and only when listed in [VerifierConfig.Algorithms]. A kid
// names one key: NewVerifier refuses an HMAC key whose KeyID a key of the
// issuer's local KeySet has, and a kid shared with a key published later or
// served by the JWKS verifies with neither key, with an Error-level log
// record naming the issuer and the kid. [VerifierConfig.MaxTokenAge] bounds
// the lifetime and age of the tokens accepted, for issuers that mint
// long-lived ones.
//
// # Revocation on resource servers: three modes
//
// A service that verifies tokens chooses how soon it learns of a logout,
// a logout-all, a revoked session or token, or a detected reuse:
//
//   - Stateless: no store (a [Verifier] without [VerifierConfig.Store], or
//     [Config.SkipRevocationCheck]). Signature and claims only, no I/O; a
//     revoked token keeps working until its exp, so staleness is up to the
//     access-token lifetime ([Config.AccessTTL], 15 minutes by default).
//   - A store read per request: the issuers' store as the Store. Every
//     revocation counts at the next request, at the price of one round
//     trip per request (on Redis one pipelined read of three keys in one
//     slot, about 1.4x a bare GET; on PostgreSQL one statement), and a
//     store outage refuses every request (503: fail closed).
//   - Pushed revocations: a redisstore.View as the Store. The Redis store
//     publishes each revocation in the same script that writes it; the
//     View keeps them in memory, bounded and expiring, and answers the
//     check with no round trip. A revocation counts once its message
//     arrives (milliseconds: BENCHMARKS.md, "Pushed revocations"), and in
//     the worst case after ViewOptions.MaxStaleness (a second by default):
//     past that without a probe answered on each of its subscriptions
//     (one per server: the Redis server, Sentinel's master, or every
//     master of a Cluster), the View reads the store per request (or,
//     with ViewOptions.FailClosed, refuses, and the readiness check says
//     not ready) until it is back in step. After a reconnection, each
//     token issued before it is read from the store once, so a revocation
//     made while the View could not hear is never missed. What a View cannot
//     see is a session's natural end (idle or absolute expiry); access
//     tokens never outlive the absolute one, and the idle one is days.
//
// How to pick: stateless when a revocation may wait for the token's
// expiry and the service must not depend on the store; pushed when the
// store is Redis and requests are many (the check then costs about what a
// map lookup does, and a verified-token cache hit stays well under a
// microsecond); a read per request when the store is not Redis, when
// requests are few, or when not even a second of staleness is acceptable.
// The Issuer itself can use a View as its store: its own revocations enter
// the view at once.
//
// # Other issuers
//
// A Verifier also checks the access tokens of standard issuers, each with
// a one-line, explicit setting. By default it accepts only "typ": "at+jwt",
// the type RFC 9068 §2.1 gives JWT access tokens and the one sessionkit
// issues: explicit typing (RFC 8725 §3.11) is what keeps an issuer's ID
// tokens, logout tokens or any other JWT it signs from passing for an
// access token at an API that trusts its keys (RFC 9068 §4 asks resource
// servers to check it). Many issuers still send the generic "JWT", or no
// typ at all; [VerifierConfig.TokenTypes] (or [TrustedIssuer.TokenTypes]
// per issuer) admits them, compared as RFC 7515 §4.1.9 says (without case,
// "application/" optional), an empty string admitting tokens without typ.
// Widening it trades that defence for compatibility: do it only for the
// issuer that needs it. The audience then has to tell the tokens apart: an
// ID token's aud is the client's id, so an API whose Audience is that same
// id (one app registration for the client and the API, common with Entra
// ID and Keycloak) would take the client's ID tokens too; give the API an
// audience of its own, or require a scope ([RequireScope]: ID tokens carry
// none). A refused type's error names the setting. The lines, with the
// issuer's identifier as iss says it:
//
//	// Auth0 (the default "JWT" profile; its RFC 9068 profile needs nothing)
//	{Issuer: "https://tenant.eu.auth0.com/", TokenTypes: []string{"JWT"}}
//	// Keycloak ("JWT"; clients set to RFC 9068 tokens send "at+jwt", which
//	// the default admits: a realm with both needs {"JWT", "at+jwt"})
//	{Issuer: "https://sso.example.com/realms/acme", TokenTypes: []string{"JWT"}}
//	// Okta, a custom authorization server (no typ)
//	{Issuer: "https://acme.okta.com/oauth2/default", TokenTypes: []string{""}}
//	// Entra ID v2 tokens ("JWT", scopes in scp, ver "2.0")
//	{Issuer: "https://login.microsoftonline.com/<tenant>/v2.0", TokenTypes: []string{"JWT"}}
//	// Entra ID v1 tokens: another iss, whose keys are the tenant's
//	{Issuer: "https://sts.windows.net/<tenant>/", TokenTypes: []string{"JWT"},
//		JWKSURL: "https://login.microsoftonline.com/<tenant>/discovery/keys"}
//	// Ory Hydra ("JWT")
//	{Issuer: "https://hydra.example.com/", TokenTypes: []string{"JWT"}}
//	// Spring Authorization Server (no typ; aud is the client id by default)
//	{Issuer: "https://auth.example.com", TokenTypes: []string{""}}
//	// Node jose, golang-jwt, jwx, go-jose services (whatever they set)
//	{Issuer: "https://svc.example.com", TokenTypes: []string{"JWT", ""}}
//
// Their claims are read as they come: scope as a space-separated string or
// an array of strings, scp (Entra ID, Okta) when scope is absent, both
// giving [Claims.Scope] for [Claims.HasScope] and [RequireScope]; jti, nbf
// and ver optional unless a check needs them (a Verifier with a Store needs
// jti for the deny-list and sessionkit's numeric ver), a ver that is not
// sessionkit's (Entra ID's "2.0") kept in [Claims.Extra] with every claim
// sessionkit does not interpret. [VerifierConfig.Algorithms] admits RS384,
// RS512, PS256, PS384, PS512, ES384 and ES512 besides the default RS256,
// ES256 and EdDSA; each key verifies with its own algorithm only (its JWK's
// alg, or its type's default: RS256 for RSA keys, as the JWKS of issuers
// that omit alg are meant). A token without kid verifies when the issuer's
// key set holds exactly one usable key of its algorithm, and is refused
// otherwise.
//
// [Middleware] puts any [TokenVerifier] ([Issuer] or [Verifier]) in front
// of an http.Handler. It reads the token from "Authorization: Bearer", from
// the access cookie when [MiddlewareOptions.AccessCookie] is set, or, opt-in only,
// from the access_token query parameter (RFC 6750 §2.3). Requests
// authenticated by cookie with an unsafe method pass
// http.CrossOriginProtection first, so an application's own routes are safe
// from cross-site request forgery. Refusals follow RFC 6750: 401 without an
// error code for a missing token, 401 invalid_token for a bad one (its
// error_description says when the token expired, the case where refreshing
// helps), 400 invalid_request for a token sent twice, 403
// insufficient_scope from [RequireScope], and 503 when keys or the store
// cannot be reached: never a pass. The handler reads the claims with
// [ClaimsFromContext].
//
// # Server-to-server
//
// Backend services authenticate without a user: a client signs a short JWT
// with its own private key ([SignClientAssertion]) and trades it at
// [Issuer.TokenEndpoint] (RFC 6749 §3.2) for an access token, with the
// jwt-bearer grant of RFC 7523. The client is registered in a
// [ClientRegistry] ([NewMemoryClients] for a fixed set) with its public keys
// ([NewClientKey], [ParseClientKey]: PEM or JWK) and allowed scopes. The
// assertion's aud must be exactly the issuer identifier, never the
// endpoint's URL (the audience-injection attacks of CVE-2025-27370 and
// CVE-2025-27371); its exp lies at most [MaxAssertionLifetime] ahead; its jti
// is consumed through the store's atomic use-once, per client, so a replay
// fails across restarts and instances with a persistent store; a client_id
// parameter beside it must name the same client. Failures
// before the signature verifies all get one answer, so nobody learns which
// clients or keys exist.
//
// Client tokens carry client_id (RFC 9068) and no session;
// [Claims.IsClient] tells a client's own token from a user's, and the
// store keeps clients' token versions apart from users' even when their ids
// are equal. Verify applies the deny-list and the version to them;
// [Issuer.RevokeClient] revokes all of a client's own tokens. With
// [TokenEndpointConfig.ActAs] a client may obtain tokens for users it acts
// for. A session issued to a client ([Grant.ClientID]) refreshes at the
// token endpoint only with that client's private_key_jwt authentication.
// [Issuer.RevocationEndpoint] (RFC 7009) and [Issuer.IntrospectionEndpoint]
// (RFC 7662) complete the set.
//
// [Issuer.MetadataHandler] publishes the authorization-server metadata (RFC
// 8414): the issuer identifier, the JWKS and whichever of these endpoints
// are mounted, with the grants and client authentication each really
// accepts. Mounted at /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration, it lets other services, and OAuth and
// OpenID Connect libraries such as go-oidc, find the keys and endpoints from
// the issuer URL alone. It names no authorization endpoint and no ID-token
// algorithms: an Issuer is not an OpenID provider.
//
// # Rotation and reuse
//
// Every [Issuer.Refresh] rotates: the presented refresh token is spent, a new
// one and a new access token come back. A session (the family of refresh
// tokens descending from one login) has a sliding idle expiry
// ([Config.RefreshTTL], 7 days by default), moved forward at each refresh, and
// an absolute expiry ([Config.SessionTTL], 30 days) that nothing extends.
//
// A spent token presented again means two parties hold the family: the user
// and a thief, and sessionkit cannot tell which is which. So the whole session
// is revoked in the same atomic store step, the error wraps
// [ErrRefreshReused], an [EventReuseDetected] event fires and a warning is
// logged. The user logs in again; the thief's copy is dead too.
//
// Only a token that provably belonged to the session counts as reuse: its
// secret must hash to one the store kept for that session (the current one,
// the previous one, or one of the last [store.MinSpentHistory] spent ones).
// A token naming a real session with any other secret is [ErrInvalidToken] and
// writes nothing, so knowing a session id, which every access token shows,
// never lets anyone log a victim out.
//
// [Config.OnRefresh] runs at each refresh, before anything is written, on the
// session the presented token proves; it may refuse (a banned user: the
// session is revoked) or replace the session's application claims, which the
// rotation then stores in the same atomic step.
//
// # Grace window
//
// Browsers lose responses and tabs race: two tabs may both send the same
// refresh token, or a response may never arrive. Within [Config.ReuseGrace]
// (10 seconds by default, at most [MaxReuseGrace], negative disables) the
// immediately previous token returns the same successor again, with a fresh
// access token, instead of counting as reuse. To do that without keeping a
// usable token in the store, the successor's secret is sealed with AES-256-GCM
// under a key derived by HKDF-SHA256 from the previous secret (info
// "sessionkit/successor/v1"), with a random nonce and the session id and
// generation as associated data: only a holder of the previous token can open
// it. An older token, or the previous one after the window, is reuse.
//
// The window is a trade: a thief who replays the previous token within it
// gets the same successor as the user, and the family forks silently until
// one side presents a token the other has spent. Keep it short; set a
// negative ReuseGrace where clients never race.
//
// A stalled store must not turn retries into reuse: when it answers again,
// the window may be over. So a networked store applies no rotation after
// its caller's deadline, and an Issuer remembers for five minutes the
// rotations it gave up on: a token whose rotation may have run with its
// answer lost gets its window stretched, and a replay past the normal
// window stands only if its successor is one that Issuer's own call asked
// for (any other is reuse). A 15-second stall of Redis under 32 refreshing
// clients revoked none of their sessions. The in-process stores always
// answer their caller.
//
// # Revocation
//
//   - [Issuer.Logout] ends the session of a refresh token.
//   - [Issuer.RevokeSession] ends one session of a subject by id ("sign out
//     that device"); a subject cannot end another subject's session.
//   - [Issuer.LogoutAll] ends every session of a subject and bumps its token
//     version in one atomic step: every access token issued to the subject
//     before fails its next stateful verification at once. Versions never
//     expire.
//   - [Issuer.RevokeAccessToken] puts one access token's jti on the deny-list
//     until its exp plus [MaxLeeway], after which the entry vanishes by itself.
//   - [Issuer.Sessions] lists a subject's live sessions with device metadata.
//
// Access tokens of an ended session fail Verify's session check at once.
// Services that verify statelessly (SkipRevocationCheck, or another stack
// reading the JWKS) see revocations only when the access token expires, which
// is why access tokens are short-lived.
//
// # Browser apps: cookies and CSRF
//
// A browser keeps the tokens in two cookies that page scripts cannot read,
// named and scoped by [Cookies], whose zero value is the secure default: the
// access cookie "__Host-sk_access" (Path=/, Secure, HttpOnly, SameSite=Lax)
// and the refresh cookie "__Secure-sk_refresh" (Path=/auth, Secure,
// HttpOnly, SameSite=Strict), each with a Max-Age of its token's remaining
// lifetime, so an expired access token is simply a missing cookie. The
// prefixes stop a subdomain or a plain-http page from overwriting them; the
// refresh cookie travels only to the auth routes. [Cookies.Set] refuses,
// with an error, a cookie over [MaxCookieSize] that a browser would drop
// without a word. Set the value once in [Config.Cookies], where [New]
// validates it (a Domain forbids the __Host- prefix, for one, and a
// RefreshPath or Domain over the 1024 bytes browsers keep of an attribute
// is refused). The login helper, the handlers and the middleware read them
// there; nothing else takes cookie settings, so nothing can disagree.
//
//	iss, err := sessionkit.New(sessionkit.Config{..., Cookies: sessionkit.Cookies{}}) // zero value: secure defaults
//	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
//		// check the password, then:
//		toks, err := iss.LoginCookies(w, r, sessionkit.Grant{Subject: user})
//		...
//	})
//	mux.Handle("POST /auth/refresh", iss.RefreshHandler())
//	mux.Handle("POST /auth/logout", iss.LogoutHandler())
//	mux.Handle("POST /auth/logout-all", iss.LogoutAllHandler())
//	sessions := iss.SessionsHandler() // GET lists, DELETE ?id= revokes
//	mux.Handle("GET /auth/sessions", sessions)
//	mux.Handle("DELETE /auth/sessions", sessions)
//	api := sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AccessCookie: true})(appMux)
//
// A server-rendered app puts its pages behind [Issuer.PageMiddleware] and
// sets [Config.Pages]: a page load whose access token expired goes to the
// refresh route and comes back renewed (303 both ways, no script), or
// lands on the login page when the session is gone:
//
//	iss, err := sessionkit.New(sessionkit.Config{..., Pages: sessionkit.Pages{LoginURL: "/login"}})
//	mux.Handle("POST /auth/refresh", iss.RefreshHandler())
//	mux.Handle("GET /auth/refresh", iss.RefreshHandler()) // the page renewals
//	mux.Handle("/", iss.PageMiddleware(sessionkit.MiddlewareOptions{})(pagesMux))
//
// The page's script calls its API; on a 401 it posts to the refresh route
// once and repeats the call once, and shows the login form if that fails.
// [Issuer.RefreshHandler] rotates and sets the new cookies; concurrent tabs
// get the same successor through the grace window; on reuse or an ended
// session it clears the cookies and answers 401. Clients without cookies
// send the refresh token in a JSON body instead and get the tokens back.
// Every answer is JSON, never echoes a token or an internal error, and a
// store outage answers 503 without touching the cookies.
//
// Cookies ride along with requests that other sites make the browser send,
// so every request authenticated by a cookie with an unsafe method passes
// http.CrossOriginProtection (Sec-Fetch-Site, else Origin against Host,
// plus [Cookies.TrustedOrigins]) before anything happens: in [Middleware],
// in every ready-made handler and in [Issuer.LoginCookies], which also
// stops another site from logging the browser into the attacker's account
// (login CSRF, [ErrCrossOrigin]). SameSite alone would not do: it counts
// sibling subdomains as the same site. Requests authenticated by an
// Authorization header or a request body are not checked: browsers do not
// add those on their own. [Cookies.InsecureAllowHTTP] drops Secure and the
// prefixes for local development over plain http, and New logs a warning.
//
// # Stores
//
// A store ([store.Store]) keeps sessions, versions, the deny-list and use-once
// keys; every operation is one atomic step. Five backends ship, one package
// each:
//
//   - store/memstore: in memory, for one process and for tests.
//   - store/boltstore: an embedded bbolt file, for a single binary that
//     keeps sessions across restarts; concurrent rotations share fsyncs.
//   - store/redisstore: Redis (single node, Sentinel or Cluster) through
//     go-redis, for a fleet; every operation is one round trip, and all keys
//     of a subject share one Cluster hash slot.
//   - store/pgstore: PostgreSQL through a pgx v5 pool, for a fleet whose
//     database is PostgreSQL already; the schema is embedded and applied
//     by its Migrate, every operation is one statement (a rotation that
//     writes, two: a read and a compare-and-set), durable at commit.
//   - store/sealedstore: no server state; the session travels inside the
//     refresh token, sealed with AES-256-GCM under a key ring. Alone it
//     cannot detect reuse or revoke one session; given any stateful store
//     for the small parts (versions, deny-list, a generation counter) it can.
//
// [New] refuses a store that lacks a capability the configuration relies
// on, unless [Config.AcceptStoreLimits] accepts it explicitly; the calls that
// need it then return [ErrUnsupported]. The conformance suite store/storetest
// pins the contract and every backend runs it, including third-party ones.
// Store failures surface as [ErrStoreUnavailable] and sessionkit fails
// closed: nothing is granted while the store cannot answer. What a hung,
// restarted or failed-over Redis costs, with the figures its fault tests
// measured, is in store/redisstore's documentation (Failures, Failover).
//
// Before it serves, an application can ask whether its store answers and
// its keys are there: [Issuer.Check] (a signing key, and one read of the
// store that writes nothing) and [Verifier.Check] (every trusted issuer's
// keys, cached or fetched, and its store) return an error wrapping
// [ErrStoreUnavailable] or [ErrKeysUnavailable]. [ReadinessHandler] answers
// the same to load balancers and orchestrators (mount it at GET /readyz):
// 200 "ready", or 503 and a short reason, within [ReadinessTimeout].
// redisstore.NewChecked pings Redis when the store is made;
// pgstore.NewChecked connects to PostgreSQL and migrates the schema.
//
// # Many issuers, one store
//
// Everything an Issuer keeps in its store is scoped to its identifier
// ([Config.Issuer]) by construction: the subjects its sessions, versions and
// deny-list entries are filed under and the namespaces of its use-once
// records carry the identifier, and the hash the store keeps of each refresh
// secret is bound to it. Issuers with different identifiers (the tenants of
// a multi-tenant auth server, say) can therefore share one store instance,
// with no prefix to choose: a refresh token of one, presented to another,
// matches nothing there and changes nothing, even when both sign with the
// same keys; one tenant's LogoutAll, RevokeSession, Sessions, token versions,
// deny-list and client-assertion jtis never reach another's. A [Verifier]
// reading the store ([VerifierConfig.Store]) uses the same names for each
// trusted issuer. Stores need nothing for this and see the scoped names as
// opaque strings (which contain U+001F as a separator).
//
// Stores written before issuer scoping hold unscoped records. Upgrading an
// application that runs one Issuer per store, set [Config.LegacyUnscopedStore]
// on it (and [TrustedIssuer.LegacyUnscopedStore] on the Verifiers that read
// the store for it): it then keeps reading and writing the old names, and
// every session, version, deny-list entry and use-once record carries over.
// Scoped Issuers added later beside it stay isolated from it. Set the option
// on at most one Issuer per store (NewVerifier refuses two on one store).
// Without it, the old records are invisible: every user signs in again, and
// every access token issued before the upgrade fails the revocation check
// (the jti of tokens minted under scoped names starts with "~", which no
// older one does, so a check of one layout refuses the other's tokens, also
// when an Issuer and a Verifier disagree on the option); only the client
// assertions consumed in the last MaxAssertionLifetime before the upgrade
// could be replayed once more. Issuer identifiers may not contain control
// characters (the scoped names' separators) nor exceed 1024 bytes.
//
// # Keys across a fleet
//
// A key made at start ([GenerateSigningKey]) dies with the process, and
// with it every access token it signed. Keep the key in a PEM file
// ([ParseSigningKeyPEM]), or let the store keep it: [OpenManagedKeys] loads
// the issuer's key ring from a [store.KeyStore] (memstore, boltstore,
// redisstore and pgstore implement it), creating its first key when there is none
// (instances starting together end with one key), and [ManagedKeys.Keys]
// is the [KeySet] for [Config.Keys] and [TrustedIssuer.Keys]. The private
// keys reach the store sealed with AES-256-GCM under a key-encryption key
// ring the application holds ([ManagedKeysConfig.KEK], a sealedstore.Keys),
// with the ring's clear part (key ids, states, times) and its store version
// as associated data: a dump of the store yields no private key, and who
// can write to the store but lacks the KEK can neither change the schedule
// nor put an older ring back.
//
//	keys, err := sessionkit.OpenManagedKeys(ctx, sessionkit.ManagedKeysConfig{
//		Store: st, Issuer: "https://auth.example.com", KEK: kek, // st: redisstore, boltstore
//	})
//	go keys.Run(ctx) // reloads and rotates every RefreshEvery
//	iss, err := sessionkit.New(sessionkit.Config{..., Keys: keys.Keys(), Store: st})
//
// The rotation follows [KeySet]'s steps on a schedule, every
// [ManagedKeysConfig.RotateEvery] (30 days): a next key is published, it is
// promoted once every instance has loaded it and every verifier's cached
// JWKS has it (RefreshEvery + [JWKSMaxAge] + PromoteLead after
// publication), and the old key is retired once the last token any
// instance signed with it has expired (AccessTTL + [MaxLeeway] +
// RefreshEvery after it stopped signing). Each step is one compare-and-set
// on the ring, taken by whichever instance finds it due first; the others
// load the result, so it happens once across the fleet, and every instance
// sees a change within [ManagedKeysConfig.RefreshEvery] (one minute, at
// most JWKSMaxAge). No token is refused during a rotation. Nothing runs
// unless the application starts [ManagedKeys.Run], or calls
// [ManagedKeys.Tick] from a timer of its own; tests call Tick on a clock of
// their own. [ManagedKeys.Rotate], [ManagedKeys.Retire] and
// [ManagedKeys.UnsafeRetire] (for a key that leaked) act at once, and
// [ManagedKeys.Ring] lists the keys with their states and times. [New]
// refuses an Issuer whose AccessTTL outlasts the managed keys'.
//
// # Operations: events, reasons, logs
//
// Every refusal is an [Event] with a [Reason], told to [Config.Events] (an
// Issuer) or [VerifierConfig.Events] (a Verifier), once per refusal:
//
//   - [EventAccessTokenRefused]: [Issuer.Verify], [Verifier.Verify], and
//     the [Middleware] and [RequireScope] for what Verify never sees
//     (ReasonMissing, ReasonInvalidRequest, ReasonCrossOrigin,
//     ReasonInsufficientScope); a refusal after the signature (expired,
//     revoked, wrong audience) names the subject and session;
//   - [EventRefreshFailed]: ReasonUnknownToken, ReasonSessionExpired,
//     ReasonSessionRevoked, ReasonStoreUnavailable (and, from
//     RefreshHandler, ReasonMissing, ReasonCrossOrigin,
//     ReasonInvalidRequest); reuse is [EventReuseDetected], a refusal of
//     OnRefresh [EventRefreshRefused];
//   - [EventTokenRequestRefused]: the RFC 6749 error of the answer as the
//     reason, ReasonAssertionReplayed for a replayed assertion, ReasonReused
//     for a reused refresh token, naming the client once an assertion proved
//     it;
//   - [EventKeysFetchFailed]: ReasonFetchFailed or ReasonBadDocument, for
//     each failed JWKS or discovery fetch of a Verifier.
//
// A refused refresh grant is both an EventRefreshFailed and an
// EventTokenRequestRefused; every other refusal is one event. Events never
// carry token material, and never a value only the sender chose (an
// untrusted iss, an unproved session id). errors.Is on the returned errors
// is as before. The introspection endpoint reports no refusal for an
// inactive token: its answer refuses nothing. The adapter in the otel module
// (github.com/sessionkit/sessionkit/otel) turns them into OpenTelemetry
// metrics, with alerting rules beside it.
//
// The Middleware, RequireScope, the ready-made handlers and the OAuth
// endpoints log each refused request once: "sessionkit: request refused"
// (for a reuse, the Issuer's "refresh token reuse detected" record) with
// status, reason, method and path (and, from the OAuth endpoints, code,
// description and client_id; for outages, error), at
// the level [Reason.LogLevel] documents: Debug for what ordinary traffic
// does (a missing or expired token), Warn for what suggests an attack or a
// misconfiguration (a bad signature, a wrong issuer or audience, an unknown
// key, reuse, a cross-origin request, an outage). A log at Debug shows why
// every request was refused; at Warn, only what needs a look. Records of
// 5xx answers carry the error, which may hold the text of errors the
// application's own code returned (OnRefresh, ActAs, a ClientRegistry, a
// TokenVerifier of its own): keep token material out of those.
//
// # Security model
//
// sessionkit defends against: stolen refresh tokens (rotation, reuse
// detection, family revocation), forged or tampered access tokens (signature
// with an explicit allow-list, strict parsing), algorithm confusion (alg
// "none", HMAC with a public key, a kid pointing at a key of another
// algorithm, an HMAC secret and a public key sharing a kid), key injection
// through headers, a JWKS fetch redirected to another origin, a discovery
// document naming another issuer (mix-up), a client_id
// naming another client than the assertion's, oversized or malformed input
// (errors, never panics), replay of revoked tokens inside the clock-skew
// leeway (deny entries outlive the maximum leeway), session-id guessing (reuse
// needs a real secret), store dumps (hashes and sealed blobs only, signing
// keys sealed under the application's KEK), and, in
// browsers, script access to the tokens (HttpOnly cookies), cookie tossing
// (name prefixes) and cross-site request forgery, login included (the
// cross-origin check).
// Error messages and log records never contain token material.
//
// It does not authenticate users (the application does), and it cannot revoke
// an access token at a verifier that does not consult the store before the
// token expires; at such a verifier, [VerifierConfig.MaxTokenAge] (or
// [Config.MaxTokenAge] with SkipRevocationCheck) bounds how long a token
// stays valid, whatever lifetime its issuer gave it. How to report a
// vulnerability, and what is in scope: SECURITY.md in the repository.
//
// # Concurrency
//
// An [Issuer] is immutable after [New] and safe for concurrent use; so is a
// [KeySet], whose readers never lock (rotation swaps an immutable snapshot).
// Concurrent refreshes of one token are decided by the store's atomic
// rotation: exactly one rotates; the others get the same successor inside the
// grace window, or count as reuse outside it. sessionkit never holds a lock
// while it calls a store, the network or a user callback, and starts no
// long-lived goroutine unless asked (memstore's janitor, [ManagedKeys.Run]); a
// [Verifier] runs each JWKS fetch (discovery included) in a goroutine of its
// own, bounded by the fetch timeout, so that one caller giving up does not
// fail the others. A Verifier is immutable after [NewVerifier] and safe for
// concurrent use: it reads its cached key set without locking. Time comes from [Config.Now] (and
// [VerifierConfig.Now]), so tests control it.
package sessionkit
