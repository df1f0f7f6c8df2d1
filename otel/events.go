package skotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sessionkit/sessionkit"
)

// ScopeName is the instrumentation scope of the Meter that Events and
// WrapStore take from the MeterProvider (the Prometheus exporter shows it
// as the otel_scope_name label).
const ScopeName = "github.com/sessionkit/sessionkit/otel"

// MaxIssuers is how many distinct issuer identifiers the Events hook
// records as values of sessionkit.issuer; events of further issuers are
// recorded with the value "_OTHER". An Issuer reports its own identifier
// and a Verifier its trusted issuers, so a deployment stays far below it;
// the bound keeps the number of series finite whatever reaches the hook.
const MaxIssuers = 64

// otherValue stands for an attribute value over a bound, in the manner of
// the semantic conventions' error.type.
const otherValue = "_OTHER"

// maxReasonLen bounds a sessionkit.reason value. The reasons are the
// short constants of package sessionkit; anything longer is recorded as
// "_OTHER".
const maxReasonLen = 64

// The attribute keys of the event counters.
const (
	attrIssuer  = attribute.Key("sessionkit.issuer")
	attrReason  = attribute.Key("sessionkit.reason")
	attrOutcome = attribute.Key("sessionkit.outcome")
	attrEvent   = attribute.Key("sessionkit.event")
)

// counterID names one of the event counters.
type counterID int

const (
	cLogin counterID = iota
	cRefresh
	cLogout
	cTokenRevoked
	cClientToken
	cTokenRefused
	cTokenRequestRefused
	cKeysFetchFailed
	cOther
	nCounters
)

// counterSpecs are the event counters, indexed by counterID; the package
// documentation has the same table for readers.
var counterSpecs = [nCounters]struct{ name, unit, desc string }{
	cLogin:               {"sessionkit.login", "{session}", "Sessions created by Login."},
	cRefresh:             {"sessionkit.refresh", "{refresh}", "Refresh-token presentations, by outcome: rotated, reused (the session was revoked), refused (by OnRefresh) or failed (with a reason)."},
	cLogout:              {"sessionkit.logout", "{logout}", "Sessions ended: logout, logout_all (every session of a subject) or session_revoked (by id)."},
	cTokenRevoked:        {"sessionkit.token.revoked", "{revocation}", "Access tokens revoked: access_token_revoked (one jti) or client_revoked (every token of a client)."},
	cClientToken:         {"sessionkit.client_token", "{token}", "Access tokens the token endpoint issued for a client's assertion."},
	cTokenRefused:        {"sessionkit.token.refused", "{token}", "Access tokens refused by Issuer.Verify, a Verifier or the Middleware, by reason."},
	cTokenRequestRefused: {"sessionkit.token_request.refused", "{request}", "Requests the token, revocation or introspection endpoint refused, by reason."},
	cKeysFetchFailed:     {"sessionkit.keys.fetch.failed", "{fetch}", "JWKS or discovery fetches of a Verifier that failed, by reason."},
	cOther:               {"sessionkit.event", "{event}", "Events of kinds this version of the adapter does not know, by kind."},
}

// route says which counter an event kind adds to, and with which fixed
// attribute besides the issuer (and the reason, which every event that
// has one carries).
type route struct {
	counter counterID
	outcome string // the sessionkit.outcome value; "" for none
	event   bool   // the kind's name as sessionkit.event
}

var routes = map[sessionkit.EventKind]route{
	sessionkit.EventLogin:               {counter: cLogin},
	sessionkit.EventRefresh:             {counter: cRefresh, outcome: "rotated"},
	sessionkit.EventReuseDetected:       {counter: cRefresh, outcome: "reused"},
	sessionkit.EventRefreshRefused:      {counter: cRefresh, outcome: "refused"},
	sessionkit.EventRefreshFailed:       {counter: cRefresh, outcome: "failed"},
	sessionkit.EventLogout:              {counter: cLogout, event: true},
	sessionkit.EventLogoutAll:           {counter: cLogout, event: true},
	sessionkit.EventSessionRevoked:      {counter: cLogout, event: true},
	sessionkit.EventAccessTokenRevoked:  {counter: cTokenRevoked, event: true},
	sessionkit.EventClientRevoked:       {counter: cTokenRevoked, event: true},
	sessionkit.EventClientToken:         {counter: cClientToken},
	sessionkit.EventAccessTokenRefused:  {counter: cTokenRefused},
	sessionkit.EventTokenRequestRefused: {counter: cTokenRequestRefused},
	sessionkit.EventKeysFetchFailed:     {counter: cKeysFetchFailed},
}

// eventKey is what decides an event's counter and attribute set.
type eventKey struct {
	kind   sessionkit.EventKind
	reason sessionkit.Reason
	issuer string
}

// measurement is a counter with its precomputed attribute set.
type measurement struct {
	counter metric.Int64Counter
	opts    []metric.AddOption
}

// recorder is the state behind the hook Events returns.
type recorder struct {
	counters [nCounters]metric.Int64Counter

	// cache maps every key seen so far (of an admitted issuer) to its
	// measurement. The map behind the pointer is never changed: an
	// addition copies it under mu, so that the common path is one atomic
	// load and one lookup, without lock or allocation.
	cache atomic.Pointer[map[eventKey]measurement]

	mu      sync.Mutex
	issuers map[string]bool // the admitted issuers; guarded by mu
}

// Events returns a hook for sessionkit.Config.Events and
// sessionkit.VerifierConfig.Events that counts every event on a Meter of
// mp (scope ScopeName), with the counters and attributes of the package
// documentation. It is safe for concurrent use and may serve any number of
// Issuers and Verifiers at once. To run a hook of your own as well, call
// both from one function.
//
// An error means an instrument could not be created (the MeterProvider
// refused a name or a unit); nothing was registered that needs undoing.
func Events(mp metric.MeterProvider) (func(context.Context, sessionkit.Event), error) {
	if mp == nil {
		return nil, errors.New("skotel: Events needs a MeterProvider: pass your SDK's provider, or otel.GetMeterProvider() for the global one")
	}
	m := mp.Meter(ScopeName)
	r := &recorder{issuers: map[string]bool{}}
	for id, spec := range counterSpecs {
		c, err := m.Int64Counter(spec.name, metric.WithUnit(spec.unit), metric.WithDescription(spec.desc))
		if err != nil {
			return nil, fmt.Errorf("skotel: creating the counter %s: %w", spec.name, err)
		}
		r.counters[id] = c
	}
	r.cache.Store(&map[eventKey]measurement{})
	return r.record, nil
}

// record adds one to the event's counter.
func (r *recorder) record(ctx context.Context, e sessionkit.Event) {
	k := eventKey{kind: e.Kind, reason: e.Reason, issuer: e.Issuer}
	m, ok := (*r.cache.Load())[k]
	if !ok {
		m = r.admit(k)
	}
	m.counter.Add(ctx, 1, m.opts...)
}

// admit returns the measurement for k, caching it if k's issuer is (or can
// still become) an admitted one. The key of an issuer over MaxIssuers is
// folded into its "_OTHER" key and never cached itself, so that however
// many issuers reach the hook, the cache holds at most MaxIssuers+1 of
// them.
func (r *recorder) admit(k eventKey) measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k.issuer != "" && !r.issuers[k.issuer] {
		if len(r.issuers) >= MaxIssuers {
			k.issuer = otherValue
		} else {
			r.issuers[k.issuer] = true
		}
	}
	cache := *r.cache.Load()
	if m, ok := cache[k]; ok {
		return m
	}
	m := r.measurement(k)
	next := make(map[eventKey]measurement, len(cache)+1)
	for key, v := range cache {
		next[key] = v
	}
	next[k] = m
	r.cache.Store(&next)
	return m
}

// measurement builds the counter and attribute set of k.
func (r *recorder) measurement(k eventKey) measurement {
	rt, known := routes[k.kind]
	if !known {
		rt = route{counter: cOther, event: true}
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	if k.issuer != "" {
		attrs = append(attrs, attrIssuer.String(k.issuer))
	}
	if rt.outcome != "" {
		attrs = append(attrs, attrOutcome.String(rt.outcome))
	}
	if rt.event {
		attrs = append(attrs, attrEvent.String(k.kind.String()))
	}
	if k.reason != "" {
		reason := string(k.reason)
		if len(reason) > maxReasonLen {
			reason = otherValue
		}
		attrs = append(attrs, attrReason.String(reason))
	}
	set := attribute.NewSet(attrs...)
	return measurement{counter: r.counters[rt.counter], opts: []metric.AddOption{metric.WithAttributeSet(set)}}
}
