// Package e2e drives the SPA demo (examples/spa/app) in a real headless
// Chromium with chromedp: sign-in, reload, the silent refresh when the
// access cookie expires, two tabs refreshing at once, a replayed refresh
// cookie ending the session in two browsers, logout-all reaching another
// browser, and the cookies' attributes as the browser stores them; and
// what the page shows of the session: the countdown to the access token's
// expiry, the line saying it refreshed silently, the sessions list with
// device names, and a layout that fits 1280x800 and, as an emulated
// iPhone, 390x844 without overflowing sideways.
//
// It drives the server-rendered demo (examples/webapp/app) too
// (TestWebappInChromium): a page load whose access token has expired goes
// through GET /auth/refresh and back to the page, signed in, with the
// refresh cookie rotated; another site, served on 127.0.0.2 so that the
// browser's requests from it are cross-site, can neither renew (403) nor
// post logout-all (403), and its link to a page comes through the one
// same-origin reload of the bounce page signed in; an attacker's next on
// the refresh route gets 400, and on the sign-in page leads to "/". The
// server's clock moves forward to expire the token; the test checks what
// the browser shows and what the server saw (Sec-Fetch-Site, statuses,
// redirects, the cookies each request carried).
//
// It is a module of its own, so that chromedp never reaches the library's
// go.mod. Run it with
//
//	cd e2e && go test ./...
//
// It looks for the browser in $CHROMIUM, then chromium, chromium-browser,
// google-chrome on the PATH; on Debian, apt-get install chromium. Without a
// browser the tests skip, except under CI=true, where they fail. The
// screenshots (the signed-in page; spa-session-1280.png and
// spa-session-390.png), each checked not to be blank, go to the
// -outputdir of go test (go test -outputdir DIR), by default
// e2e/artifacts; the test log names them.
package e2e
