package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

// fakeHosts plays the issuers' own hosts (sso.example.com,
// login.microsoftonline.com, ...) on 127.0.0.1: one TLS server there, with
// a certificate for those host names from a test CA, and a client that
// trusts that CA only and dials the server for any of the names, refusing
// every other address. So a Verifier configured with an issuer's real-
// looking https identifier discovers and fetches as it would in
// production, and nothing leaves the loopback interface.
type fakeHosts struct {
	Mux    *http.ServeMux
	Client *http.Client
	hosts  []string
}

func newFakeHosts(t *testing.T, hosts ...string) *fakeHosts {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interop test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	h := &fakeHosts{Mux: http.NewServeMux(), hosts: slices.Clone(hosts)}
	srv := httptest.NewUnstartedServer(h.Mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	addr := l.Addr().String()
	var d net.Dialer
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(hostport)
			if err != nil || port != "443" || !slices.Contains(h.hosts, host) {
				return nil, fmt.Errorf("interop: refusing to dial %q: not one of the fake hosts %v", hostport, h.hosts)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	h.Client = &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("interop: redirects are not followed")
		},
	}
	return h
}

// Serve serves h at the https URL raw (host and path; no query).
func (f *fakeHosts) Serve(t *testing.T, raw string, h http.Handler) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || !slices.Contains(f.hosts, u.Host) {
		t.Fatalf("fake hosts: cannot serve %q", raw)
	}
	f.Mux.Handle("GET "+u.Host+u.Path, h)
}
