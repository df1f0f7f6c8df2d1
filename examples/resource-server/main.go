// Command resource-server shows the resource-server side: an API that does
// not issue tokens verifies them through the auth server's JWKS, with
// sessionkit.Verifier and sessionkit.Middleware.
//
// It starts two servers on 127.0.0.1: an auth server (an Issuer on the
// memory store, publishing its metadata at
// /.well-known/openid-configuration, its JWKS at /.well-known/jwks.json and
// a demo POST /login) and the API, which knows only the issuer's identifier
// and finds the JWKS through the metadata (discovery). Then it plays a
// client against them and prints each answer; with -serve it keeps both
// running.
//
//	go run ./examples/resource-server
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

func main() {
	serve := flag.Bool("serve", false, "keep both servers running after the walk-through")
	flag.Parse()
	if err := run(*serve); err != nil {
		log.Fatal(err)
	}
}

func run(serve bool) error {
	// The auth server.
	key, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		return err
	}
	keys := sessionkit.NewKeySet(key)
	authL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	authURL := "http://" + authL.Addr().String()
	iss, err := sessionkit.New(sessionkit.Config{
		Issuer: authURL, Audience: []string{"notes-api"}, Keys: keys, Store: memstore.New(),
	})
	if err != nil {
		return err
	}
	authMux := http.NewServeMux()
	authMux.Handle("GET /.well-known/jwks.json", iss.Keys())
	// RFC 8414 metadata at both well-known locations; plain http here, on
	// 127.0.0.1 only.
	metadata, err := iss.MetadataHandler(sessionkit.MetadataConfig{InsecureAllowHTTP: true})
	if err != nil {
		return err
	}
	authMux.Handle("GET /.well-known/openid-configuration", metadata)
	authMux.Handle("GET /.well-known/oauth-authorization-server", metadata)
	authMux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real auth server checks a password or a passkey here.
		toks, err := iss.Login(r.Context(), sessionkit.Grant{Subject: r.FormValue("user"), Scope: "notes:read"})
		if err != nil {
			http.Error(w, "login failed", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": toks.AccessToken})
	})
	defer serveOn(authL, authMux)()

	// The API: it knows only the issuer's identifier; the JWKS URL comes
	// from the issuer's metadata, whose "issuer" must be exactly authURL.
	v, err := sessionkit.NewVerifier(sessionkit.VerifierConfig{
		Issuer:            authURL,
		Audience:          []string{"notes-api"},
		InsecureAllowHTTP: true, // both servers are plain http on 127.0.0.1
		RefetchInterval:   time.Second,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	apiMux := http.NewServeMux()
	apiMux.Handle("GET /notes", sessionkit.RequireScope("notes:read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := sessionkit.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "notes of %s\n", claims.Subject)
		})))
	apiL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	apiURL := "http://" + apiL.Addr().String()
	defer serveOn(apiL, sessionkit.Middleware(v, sessionkit.MiddlewareOptions{Realm: "notes-api"})(apiMux))()
	fmt.Printf("auth server %s\nAPI         %s\n", authURL, apiURL)

	step := func(what, token string) {
		req, _ := http.NewRequest("GET", apiURL+"/notes", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Printf("\n%s\n   error: %v\n", what, err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("\n%s\n   %d %s\n", what, resp.StatusCode, strings.TrimSpace(string(body)))
		if c := resp.Header.Get("WWW-Authenticate"); c != "" {
			fmt.Printf("   WWW-Authenticate: %s\n", c)
		}
	}
	login := func(user string) (string, error) {
		resp, err := http.PostForm(authURL+"/login", map[string][]string{"user": {user}})
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
			return "", errors.New("login failed")
		}
		return out.AccessToken, nil
	}

	step("1. No token", "")
	tok, err := login("alice")
	if err != nil {
		return err
	}
	step("2. alice's access token (the API reads the metadata, then fetches the JWKS once)", tok)
	step("3. The same token with its last character changed", tok[:len(tok)-1]+flip(tok[len(tok)-1]))

	next, err := sessionkit.GenerateSigningKey(sessionkit.ES256)
	if err != nil {
		return err
	}
	if err := keys.Rotate(next); err != nil {
		return err
	}
	time.Sleep(time.Second) // the API's RefetchInterval, shortened for the demo
	tok2, err := login("bob")
	if err != nil {
		return err
	}
	step("4. The auth server rotated its key: bob's token has a new kid, the API refetches", tok2)
	step("5. alice's token of the previous key still verifies", tok)

	if !serve {
		return nil
	}
	fmt.Println("\nserving; Ctrl-C stops")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	return nil
}

// flip changes a base64url character into another one.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// serveOn serves h on l in the background and returns the function that
// stops it.
func serveOn(l net.Listener, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }
}
