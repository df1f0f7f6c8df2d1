package skotel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.yaml.in/yaml/v3"

	"github.com/sessionkit/sessionkit"
)

// ruleFile is the part of a Prometheus rule file the test reads.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	// selectorRE finds the vector selectors metric{matchers} of a PromQL
	// expression (the rules select every metric with matchers).
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	// matcherRE finds the label matchers inside a selector's braces.
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// byRE finds the grouping labels of an aggregation.
	byRE = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	// nameRE finds the metric and label names the file mentions anywhere,
	// runbook lines included.
	nameRE = regexp.MustCompile(`\b(sessionkit_[a-z0-9_]+|error_type)\b`)
)

// exporterScrape drives an Issuer, its Middleware and a wrapped store
// through everything the rules and their runbooks name, and scrapes the
// OpenTelemetry Prometheus exporter they report to.
func exporterScrape(t *testing.T) scrape {
	t.Helper()
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	events, err := Events(mp)
	if err != nil {
		t.Fatal(err)
	}
	st := wrapMemstore(t, mp)
	iss, clk := newIssuer(t, events, st)
	driveIssuer(t, iss, clk)

	// A request without a token: refused by the Middleware as missing.
	rec := httptest.NewRecorder()
	sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})(http.NotFoundHandler()).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/me", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("a request without a token: %d, want 401", rec.Code)
	}
	// A store call with a dead context: a failure with an error.type.
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Version(dead, "u1"); err == nil {
		t.Fatal("Version with a canceled context succeeded")
	}
	return scrapeHandler(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// TestAlertRulesMatchTheExporter: every metric, label and label value
// that alerts.yml names is one the exporter really produces, so a renamed
// metric or reason fails here instead of silencing an alert.
func TestAlertRulesMatchTheExporter(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	s := exporterScrape(t)

	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" {
				t.Errorf("alert %s: want a severity label and summary and runbook annotations", r.Alert)
			}
			sels := selectorRE.FindAllStringSubmatch(r.Expr, -1)
			if len(sels) == 0 {
				t.Errorf("alert %s: no metric selector in %q", r.Alert, r.Expr)
			}
			var families []string
			for _, sel := range sels {
				family := sel[1]
				families = append(families, family)
				if s[family] == nil {
					t.Errorf("alert %s reads %s, which the exporter does not produce; it produces %v", r.Alert, family, s)
					continue
				}
				for _, m := range matcherRE.FindAllStringSubmatch(sel[2], -1) {
					label, op, value := m[1], m[2], m[3]
					vals := s.labelValues(family, label)
					if len(vals) == 0 {
						t.Errorf("alert %s: %s has no label %s", r.Alert, family, label)
					} else if (op == "=" || op == "!=") && !slices.Contains(vals, value) {
						t.Errorf("alert %s: %s{%s%s%q}: %s takes the values %q, not %q", r.Alert, family, label, op, value, label, vals, value)
					}
				}
			}
			for _, by := range byRE.FindAllStringSubmatch(r.Expr, -1) {
				for label := range strings.SplitSeq(by[1], ",") {
					label = strings.TrimSpace(label)
					for _, family := range families {
						if len(s.labelValues(family, label)) == 0 {
							t.Errorf("alert %s groups by %s, which %s does not carry", r.Alert, label, family)
						}
					}
				}
			}
		}
	}
	slices.Sort(alerts)
	if want := []string{"SessionkitExpiredTokens", "SessionkitInvalidSignatures", "SessionkitRefreshTokenReuse", "SessionkitVerificationFailures"}; !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}

	// The runbooks and comments name metrics and labels too.
	for _, name := range slices.Compact(slices.Sorted(slices.Values(nameRE.FindAllString(string(raw), -1)))) {
		if s[name] == nil && !s.hasLabel(name) {
			t.Errorf("alerts.yml names %s, which is neither a metric nor a label of the exporter's", name)
		}
	}
}
