// Package e2e drives the SPA demo (examples/spa/app) in a real headless
// Chromium with chromedp: sign-in, reload, the silent refresh when the
// access cookie expires, two tabs refreshing at once, a replayed refresh
// cookie ending the session in two browsers, logout-all reaching another
// browser, and the cookies' attributes as the browser stores them.
//
// It is a module of its own, so that chromedp never reaches the library's
// go.mod. Run it with
//
//	cd e2e && go test ./...
//
// It looks for the browser in $CHROMIUM, then chromium, chromium-browser,
// google-chrome on the PATH; on Debian, apt-get install chromium. Without a
// browser the tests skip, except under CI=true, where they fail. The
// screenshot of the signed-in page goes to the -outputdir of go test
// (go test -outputdir DIR), by default e2e/artifacts.
package e2e
