package skotel

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one scrape of a Prometheus endpoint, by metric family name.
type scrape map[string]*dto.MetricFamily

// parseScrape parses a Prometheus text exposition.
func parseScrape(t testing.TB, body io.Reader) scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// scrapeHandler scrapes h in process.
func scrapeHandler(t testing.TB, h http.Handler) scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return parseScrape(t, rec.Body)
}

// matches reports whether m carries every label of want with its value.
func matches(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// value returns the sum of the values of the family's series that carry
// the labels of want (a counter's value, a histogram's count), and how
// many series matched.
func (s scrape) value(family string, want map[string]string) (float64, int) {
	f := s[family]
	var sum float64
	n := 0
	for _, m := range f.GetMetric() {
		if !matches(m, want) {
			continue
		}
		n++
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		default:
			sum += m.GetUntyped().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum, n
}

// labelValues returns the values label takes in family, sorted.
func (s scrape) labelValues(family, label string) []string {
	var vals []string
	for _, m := range s[family].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && !slices.Contains(vals, lp.GetValue()) {
				vals = append(vals, lp.GetValue())
			}
		}
	}
	slices.Sort(vals)
	return vals
}

// hasLabel reports whether some family has a series with label.
func (s scrape) hasLabel(label string) bool {
	for _, f := range s {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					return true
				}
			}
		}
	}
	return false
}

// String lists the families, for failure messages.
func (s scrape) String() string {
	var names []string
	for n, f := range s {
		names = append(names, fmt.Sprintf("%s (%d series)", n, len(f.GetMetric())))
	}
	slices.Sort(names)
	return fmt.Sprint(names)
}
