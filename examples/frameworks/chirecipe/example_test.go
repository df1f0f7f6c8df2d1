package chirecipe_test

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

// chi takes sessionkit's middleware and handlers as they are.
func Example() {
	iss, _ := recipetest.NewIssuer() // sessionkit.New(sessionkit.Config{...})

	r := chi.NewRouter()
	r.Method(http.MethodPost, "/auth/refresh", iss.RefreshHandler())
	r.Method(http.MethodPost, "/auth/logout", iss.LogoutHandler())
	r.Route("/api", func(r chi.Router) {
		r.Use(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{}))
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := sessionkit.ClaimsFromContext(r.Context())
			w.Write([]byte("hello " + claims.Subject + "\n"))
		})
		r.With(sessionkit.RequireScope("write")).Post("/notes", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
		})
	})

	recipetest.Tour(r, iss)
	// Output:
	// GET /api/me (token): 200 hello alice
	// GET /api/me: 401 WWW-Authenticate: Bearer realm="sessionkit"
	// POST /api/notes (token): 403 WWW-Authenticate: Bearer realm="sessionkit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"
	// POST /auth/refresh (refresh token): 200
}
