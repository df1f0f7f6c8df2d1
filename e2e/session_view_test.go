package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/spa/app"
)

// iPhoneSafari is the user agent of the phone the test pretends to be.
const iPhoneSafari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"

var (
	countdownText = regexp.MustCompile(`^expires in \d+:\d\d$`)
	refreshedText = regexp.MustCompile(`^Access token refreshed silently at \d\d:\d\d:\d\d$`)
)

// TestSPAShowsTheSession: the page counts down to the access token's
// expiry, says when it refreshed silently, keeps the sessions list current
// with names a person reads, and fits a desktop (1280x800) and a phone
// (390x844) screen.
func TestSPAShowsTheSession(t *testing.T) {
	h := newHarness(t)
	alice := app.DemoLogins[0]

	desk := h.profile(t)
	do(t, desk, chromedp.EmulateViewport(1280, 800))
	h.open(t, desk)
	signIn(t, desk, alice.Username, alice.Password)
	waitSessions(t, desk, 1)
	if !run(t, desk, chromedp.Evaluate[bool](`document.getElementById("refreshed").hidden`)) {
		t.Error("the refresh line shows before any refresh")
	}

	// The countdown moves.
	first := countdown(t, desk)
	next := run(t, desk, chromedp.Poll[string](fmt.Sprintf(
		`document.getElementById("countdown").textContent !== %q && document.getElementById("countdown").textContent`, first),
		chromedp.WithPollingTimeout(wait)))
	if !countdownText.MatchString(next) {
		t.Fatalf("the countdown went from %q to %q", first, next)
	}
	if a, b := secondsLeft(t, first), secondsLeft(t, next); b >= a || a > int(accessTTL.Seconds()) {
		t.Errorf("the countdown went from %q to %q: want it falling from at most %v", first, next, accessTTL)
	}

	// The desktop's session is named after its browser.
	ua := run(t, desk, chromedp.Evaluate[string](`navigator.userAgent`))
	deskName := sessionkit.DeviceName(ua)
	if got := deviceCell(t, desk, "tr.current"); got != deskName || !strings.Contains(got, "Chrome on ") {
		t.Errorf("this browser (%q) is listed as %q, want %q (DeviceName), a Chrome", ua, got, deskName)
	}

	// A phone signs in too.
	phone := h.profile(t)
	if _, err := chromedp.Call(phone, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: iPhoneSafari}); err != nil {
		t.Fatal(err)
	}
	do(t, phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	h.open(t, phone)
	signIn(t, phone, alice.Username, alice.Password)
	waitSessions(t, phone, 2)
	if got := deviceCell(t, phone, "tr.current"); got != "Safari on iPhone" {
		t.Errorf("the phone is listed as %q, want Safari on iPhone", got)
	}
	if got := deviceCell(t, phone, "tr:not(.current)"); got != deskName {
		t.Errorf("on the phone, the desktop is listed as %q, want %q", got, deskName)
	}

	// The desktop's access token runs out; its next call refreshes
	// silently, which the page says, and the sessions list follows.
	run(t, desk, chromedp.Poll[bool](`document.getElementById("countdown").dataset.left === "0"`, chromedp.WithPollingTimeout(wait)))
	if got := countdown(t, desk); got != "expired: the next call refreshes it silently" {
		t.Errorf("at zero the countdown says %q", got)
	}
	h.dropAccessCookie(t, desk) // gone already, or within a moment: the cookie's Max-Age is the token's
	h.callAPIRefreshing(t, desk)
	wantRefreshLine(t, desk)
	if got := countdown(t, desk); !countdownText.MatchString(got) {
		t.Errorf("after the refresh the countdown says %q", got)
	}
	waitSessions(t, desk, 2) // no Reload click: the refresh reloaded the list
	if got := deviceCell(t, desk, "tr:not(.current)"); got != "Safari on iPhone" {
		t.Errorf("on the desktop, the phone is listed as %q, want Safari on iPhone", got)
	}

	// The phone refreshes too, so that its screenshot shows everything.
	h.dropAccessCookie(t, phone)
	h.callAPIRefreshing(t, phone)
	wantRefreshLine(t, phone)

	// 390 px: nothing sticks out sideways; the sessions are cards.
	overflow := run(t, phone, chromedp.Evaluate[[]string](`(() => {
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w) return [];
		return [...document.querySelectorAll("body *")]
			.filter((e) => e.getBoundingClientRect().right > w)
			.map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""))
			.concat(["scrollWidth " + document.documentElement.scrollWidth + " > clientWidth " + w]);
	})()`))
	if len(overflow) > 0 {
		t.Errorf("at 390 px the page overflows sideways: %v", overflow)
	}
	if d := run(t, phone, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#sessions tr")).display`)); d != "block" {
		t.Errorf("at 390 px a session row is display %q, want a block (a card)", d)
	}

	for _, s := range []struct {
		ctx           context.Context
		name          string
		width, height int
	}{{desk, "spa-session-1280.png", 1280, 800}, {phone, "spa-session-390.png", 390, 844}} {
		shot := run(t, s.ctx, chromedp.CaptureScreenshot())
		cfg, err := png.DecodeConfig(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if cfg.Width != s.width || cfg.Height != s.height {
			t.Errorf("%s is %dx%d, want %dx%d", s.name, cfg.Width, cfg.Height, s.width, s.height)
		}
		saveScreenshot(t, shot, s.name)
	}
	h.noExceptions(t)
}

// countdown returns the text of the page's countdown.
func countdown(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](`document.getElementById("countdown").textContent`))
}

// secondsLeft reads the seconds a countdown text ("expires in 0:07") shows.
func secondsLeft(t *testing.T, text string) int {
	t.Helper()
	m, s, ok := strings.Cut(strings.TrimPrefix(text, "expires in "), ":")
	mi, err1 := strconv.Atoi(m)
	si, err2 := strconv.Atoi(s)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("countdown %q", text)
	}
	return mi*60 + si
}

// deviceCell returns the device name the first session row matching sel
// shows (without its "this browser" badge).
func deviceCell(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`document.querySelector(%q).firstChild.textContent.trim()`, "#sessions "+sel+" td.device")))
}

// wantRefreshLine checks that the page shows when it refreshed silently.
func wantRefreshLine(t *testing.T, ctx context.Context) {
	t.Helper()
	line := run(t, ctx, chromedp.Evaluate[string](`(() => { const e = document.getElementById("refreshed"); return e.hidden ? "" : e.textContent; })()`))
	if !refreshedText.MatchString(line) {
		t.Errorf("after a silent refresh the page says %q, want %q", line, refreshedText)
	}
}
