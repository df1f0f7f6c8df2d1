package sessionkit

import (
	"strings"
	"testing"
)

func TestDeviceName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ua, want string }{
		// Chrome and Chromium.
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on Mac"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Headless Chrome on Linux"},
		// Safari.
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari on iPad"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "Safari on Mac"},
		// Firefox.
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Windows"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Mac"},
		{"Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "Firefox on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15", "Firefox on iPhone"},
		// Browsers built on Chromium, which also say "Chrome/".
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", "Edge on Windows"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64", "Edge on Android"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582", "Edge on Windows"},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0", "Opera on Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7.3329.21", "Vivaldi on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer on Windows"},
		// Clients that are not browsers: their product token.
		{"curl/8.5.0", "curl"},
		{"Wget/1.21.4", "Wget"},
		{"Go-http-client/1.1", "Go-http-client"},
		{"python-requests/2.31.0", "python-requests"},
		{"okhttp", "okhttp"},
		{strings.Repeat("a", 32) + "/1", strings.Repeat("a", 32)},
		// What it cannot name.
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Unknown browser"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "Unknown browser on iPhone"},
		{"Mozilla/5.0 (Linux; U; Android 4.0.3; de-ch; HTC Sensation Build/IML74K) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30", "Unknown browser on Android"},
		{"", ""},
		{" \t ", ""},
		// Hostile input: no byte of it but a clean product token comes back.
		{strings.Repeat("a", 33) + "/1", "Unknown browser"},
		{"evil\x1b[31m/1.0", "Unknown browser"},
		{"<script>alert(1)</script>", "Unknown browser"},
		{"\u00dcbel/1.0", "Unknown browser"},
		{"1curl/8", "Unknown browser"},
		{"/1.0", "Unknown browser"},
		// Only the first 1024 bytes are read.
		{"Mozilla/5.0 (X11; Linux x86_64) " + strings.Repeat("x", 1024) + " Firefox/125.0", "Unknown browser on Linux"},
		{strings.Repeat(" ", 1024) + "curl/8.5.0", ""},
	} {
		if got := DeviceName(tc.ua); got != tc.want {
			t.Errorf("DeviceName(%.60q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

func FuzzDeviceName(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1")
	f.Add("curl/8.5.0")
	f.Add("evil\x1b/1")
	f.Fuzz(func(t *testing.T, ua string) {
		got := DeviceName(ua)
		if len(got) > 64 {
			t.Fatalf("DeviceName answered %d bytes", len(got))
		}
		for i := range len(got) {
			if c := got[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("DeviceName answered %q, with byte %#x", got, c)
			}
		}
		head := ua[:min(len(ua), maxDeviceNameInput)]
		if (got == "") != (strings.TrimSpace(head) == "") {
			t.Fatalf("DeviceName(%q) = %q", ua, got)
		}
		own := got == "" || got == unknownBrowser || strings.Contains(got, " on ") || got == "Safari"
		for _, b := range uaBrowsers {
			own = own || got == b.name
		}
		if !own && !strings.HasPrefix(strings.TrimSpace(head), got) {
			t.Fatalf("DeviceName(%q) = %q: neither its own words nor the product token", ua, got)
		}
		if again := DeviceName(ua); again != got {
			t.Fatalf("DeviceName is not deterministic: %q, then %q", got, again)
		}
	})
}
