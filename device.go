package sessionkit

import "strings"

// maxDeviceNameInput caps how much of a user agent DeviceName reads: real
// browsers' fit in a few hundred bytes.
const maxDeviceNameInput = 1024

// maxProductToken caps the product token DeviceName answers for a client
// it does not know.
const maxProductToken = 32

// unknownBrowser is what DeviceName answers for a user agent it cannot
// name.
const unknownBrowser = "Unknown browser"

// uaName is a name DeviceName answers and the user-agent tokens that
// stand for it.
type uaName struct {
	name   string
	tokens []string
}

// uaBrowsers are the browsers DeviceName knows. Order matters: most
// browsers also carry the tokens of those they are built on (Edge and
// Samsung Internet say "Chrome/", Chrome says "Safari/"), so the more
// specific come first. Safari has no token of its own (see DeviceName).
var uaBrowsers = []uaName{
	{"Samsung Internet", []string{"SamsungBrowser/"}},
	{"Edge", []string{"Edg/", "EdgA/", "EdgiOS/", "Edge/"}},
	{"Opera", []string{"OPR/", "OPiOS/", "Opera/"}},
	{"Vivaldi", []string{"Vivaldi/"}},
	{"Firefox", []string{"Firefox/", "FxiOS/"}},
	{"Headless Chrome", []string{"HeadlessChrome/"}},
	{"Chrome", []string{"CriOS/", "Chrome/", "Chromium/"}},
	{"Internet Explorer", []string{"MSIE ", "Trident/"}},
}

// uaSystems are the operating systems DeviceName knows, in the same way:
// Android says "Linux", an iPhone "like Mac OS X".
var uaSystems = []uaName{
	{"iPhone", []string{"iPhone"}},
	{"iPad", []string{"iPad"}},
	{"iPod", []string{"iPod"}},
	{"Android", []string{"Android"}},
	{"ChromeOS", []string{"CrOS "}},
	{"Windows", []string{"Windows"}},
	{"Mac", []string{"Macintosh", "Mac OS X"}},
	{"Linux", []string{"Linux", "X11"}},
}

// DeviceName names the browser and system of a User-Agent header the way
// a person reads them, for a list of sessions: "Chrome on Linux", "Safari
// on iPhone", "Firefox on Windows", "Edge on Windows", "Samsung Internet on
// Android", "Headless Chrome on Linux" (Chromium run by a test or a
// crawler). A client that is not a browser is named by its product token,
// the name before the first "/": "curl", "Go-http-client". What it cannot
// name is "Unknown browser", or "Unknown browser on Windows" when the
// system is known. It answers "" for an empty (or blank) user agent.
//
// The user agent is whatever the client sent, so DeviceName reads at most
// its first 1024 bytes, in time linear in them, and answers either words
// of its own or a product token of at most 32 letters, digits and
// ".-_+": never the sender's other bytes.
func DeviceName(userAgent string) string {
	ua := strings.TrimSpace(userAgent[:min(len(userAgent), maxDeviceNameInput)])
	if ua == "" {
		return ""
	}
	browser, system := uaMatch(ua, uaBrowsers), uaMatch(ua, uaSystems)
	if browser == "" && strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") &&
		(system == "Mac" || strings.HasPrefix(system, "iP")) {
		// Safari is WebKit's "Version/" and "Safari/" with no other
		// browser's token, on an Apple system.
		browser = "Safari"
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case !strings.HasPrefix(ua, "Mozilla/"):
		if p := productToken(ua); p != "" {
			return p
		}
	}
	if system != "" {
		return unknownBrowser + " on " + system
	}
	return unknownBrowser
}

// uaMatch returns the name of the first entry one of whose tokens ua
// holds, or "".
func uaMatch(ua string, list []uaName) string {
	for _, e := range list {
		for _, tok := range e.tokens {
			if strings.Contains(ua, tok) {
				return e.name
			}
		}
	}
	return ""
}

// productToken returns ua's leading product name (RFC 9110 §10.1.5: the
// token before "/", a space or the end) when it is a letter followed by at
// most 31 letters, digits or ".-_+"; else "".
func productToken(ua string) string {
	end := strings.IndexAny(ua, "/ ")
	if end < 0 {
		end = len(ua)
	}
	p := ua[:end]
	if p == "" || len(p) > maxProductToken || !isASCIILetter(p[0]) {
		return ""
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !isASCIILetter(c) && (c < '0' || c > '9') && !strings.ContainsRune(".-_+", rune(c)) {
			return ""
		}
	}
	return p
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
