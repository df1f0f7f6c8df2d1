package skotel

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The example (examples/metrics) is a main package of another module, so
// this test builds it and runs it as a program, as an operator would: on
// a free port, with a signing key the test made, driven over HTTP, and
// read back through its /metrics.

// exampleLog is the example's stderr: kept for failure messages, and
// watched for the line that says where it serves.
type exampleLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	url   chan string
	found bool
}

var servingRE = regexp.MustCompile(`msg="metrics demo: serving" url=(\S+)`)

func (l *exampleLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.found {
		if m := servingRE.FindSubmatch(l.buf.Bytes()); m != nil {
			l.found = true
			l.url <- string(m[1])
		}
	}
	return len(p), nil
}

func (l *exampleLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// buildExample builds examples/metrics into a temporary directory.
func buildExample(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test builds examples/metrics and needs the go command on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "metrics-example")
	cmd := exec.Command(goCmd, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "examples", "metrics")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/metrics: %v\n%s", err, out)
	}
	return bin
}

// startExample runs the example binary with args and returns the URL it
// serves at. When the test ends it interrupts the example, which must
// shut down cleanly.
func startExample(t *testing.T, bin string, args ...string) string {
	t.Helper()
	log := &exampleLog{url: make(chan string, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the example: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Errorf("interrupting the example: %v", err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the example did not exit cleanly on an interrupt: %v\n%s", err, log)
			}
		case <-time.After(time.Minute): // a hang guard, not a measurement
			_ = cmd.Process.Kill()
			t.Errorf("the example did not exit within a minute of an interrupt\n%s", log)
		}
	})
	select {
	case url := <-log.url:
		return url
	case err := <-exited:
		t.Fatalf("the example exited before serving: %v\n%s", err, log)
	case <-time.After(2 * time.Minute): // a hang guard, not a measurement
		t.Fatalf("the example did not say where it serves within two minutes\n%s", log)
	}
	return ""
}

// exampleClient talks to the example like the SPA's page does, keeping
// the cookies itself so that it can present old ones again.
type exampleClient struct {
	t    *testing.T
	base string
	http *http.Client
}

// do sends a request and returns the status and the cookies it set.
func (c *exampleClient) do(method, path, body string, header http.Header) (int, map[string]string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	set := map[string]string{}
	for _, ck := range resp.Cookies() {
		set[ck.Name] = ck.Value
	}
	return resp.StatusCode, set
}

// tokens returns the access and refresh tokens among cookies.
func tokens(t *testing.T, cookies map[string]string) (access, refresh string) {
	t.Helper()
	for name, v := range cookies {
		switch {
		case strings.HasSuffix(name, "sk_access"):
			access = v
		case strings.HasSuffix(name, "sk_refresh"):
			refresh = v
		}
	}
	if access == "" || refresh == "" {
		t.Fatalf("cookies %v lack the access or the refresh token", cookies)
	}
	return access, refresh
}

// issuedClaims reads iss and aud from an access token's payload (the
// signature was checked by the example that issued it).
func issuedClaims(t *testing.T, token string) (iss string, aud []string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("an access token of %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err != nil {
			t.Fatalf("aud %s: %v", c.Aud, err)
		}
		aud = []string{one}
	}
	return c.Iss, aud
}

// TestMetricsExample runs examples/metrics and drives a login, two
// refreshes, a reuse, a forged, an expired and a missing access token
// through its HTTP handlers, then reads each series from its /metrics.
func TestMetricsExample(t *testing.T) {
	t.Parallel()
	bin := buildExample(t)
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	base := startExample(t, bin, "-addr", "127.0.0.1:0", "-key-file", keyFile, "-store", "memory")
	c := &exampleClient{t: t, base: base, http: &http.Client{
		Timeout:       time.Minute, // a hang guard
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	jsonBody := http.Header{"Content-Type": {"application/json"}}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	refreshWith := func(tok string) http.Header { return http.Header{"Cookie": {"sk_refresh=" + tok}} }

	status, set := c.do(http.MethodPost, "/auth/login", `{"username":"alice","password":"wonderland"}`, jsonBody)
	if status != http.StatusOK {
		t.Fatalf("login: %d", status)
	}
	access, first := tokens(t, set)
	if status, _ := c.do(http.MethodGet, "/api/me", "", bearer(access)); status != http.StatusOK {
		t.Fatalf("GET /api/me with the login's access token: %d", status)
	}
	status, set = c.do(http.MethodPost, "/auth/refresh", "", refreshWith(first))
	if status != http.StatusOK {
		t.Fatalf("refresh: %d", status)
	}
	_, second := tokens(t, set)
	if status, _ := c.do(http.MethodPost, "/auth/refresh", "", refreshWith(second)); status != http.StatusOK {
		t.Fatalf("second refresh: %d", status)
	}
	// Two generations on, the first token is reuse whatever the grace window.
	if status, _ := c.do(http.MethodPost, "/auth/refresh", "", refreshWith(first)); status != http.StatusUnauthorized {
		t.Fatalf("refresh with the first, rotated token: %d, want 401", status)
	}
	if status, _ := c.do(http.MethodGet, "/api/me", "", bearer(forge(t, access))); status != http.StatusUnauthorized {
		t.Fatalf("GET /api/me with a forged token: %d, want 401", status)
	}
	// An expired token, signed with the example's key by an Issuer of the
	// same identifier whose clock is an hour behind.
	iss, aud := issuedClaims(t, access)
	past := time.Now().Add(-time.Hour)
	minter, err := sessionkit.New(sessionkit.Config{
		Issuer: iss, Audience: aud, Keys: sessionkit.NewKeySet(key), Store: memstore.New(),
		Now: func() time.Time { return past },
	})
	if err != nil {
		t.Fatal(err)
	}
	old, err := minter.Login(context.Background(), sessionkit.Grant{Subject: "alice", Scope: "profile hello"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := c.do(http.MethodGet, "/api/me", "", bearer(old.AccessToken)); status != http.StatusUnauthorized {
		t.Fatalf("GET /api/me with an expired token: %d, want 401", status)
	}
	if status, _ := c.do(http.MethodGet, "/api/me", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("GET /api/me without a token: %d, want 401", status)
	}

	resp, err := c.http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	s := parseScrape(t, resp.Body)
	i := "sessionkit_issuer"
	for _, tt := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"sessionkit_login_total", map[string]string{i: base}, 1},
		{"sessionkit_refresh_total", map[string]string{i: base, "sessionkit_outcome": "rotated"}, 2},
		{"sessionkit_refresh_total", map[string]string{i: base, "sessionkit_outcome": "reused"}, 1},
		{"sessionkit_token_refused_total", map[string]string{i: base, "sessionkit_reason": "bad_signature"}, 1},
		{"sessionkit_token_refused_total", map[string]string{i: base, "sessionkit_reason": "expired"}, 1},
		{"sessionkit_token_refused_total", map[string]string{i: base, "sessionkit_reason": "missing"}, 1},
		{"sessionkit_store_duration_seconds", map[string]string{"sessionkit_store_method": "Create"}, 1},
		{"sessionkit_store_duration_seconds", map[string]string{"sessionkit_store_method": "Rotate"}, 3},
		{"sessionkit_store_duration_seconds", map[string]string{"sessionkit_store_method": "CheckAccess"}, 1},
	} {
		got, n := s.value(tt.family, tt.labels)
		if n != 1 || got != tt.want {
			t.Errorf("%s%s: %v in %d series, want %v in one", tt.family, labelString(tt.labels), got, n, tt.want)
		}
	}
	if got, n := s.value("sessionkit_token_refused_total", nil); got != 3 || n != 3 {
		t.Errorf("sessionkit_token_refused_total: %v in %d series, want 3 in 3 (no refusal besides those above)", got, n)
	}
}

// labelString writes labels as PromQL does, {name="value",...}.
func labelString(labels map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kv = append(kv, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(kv, ",") + "}"
}
