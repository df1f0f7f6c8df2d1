package chirecipe_test

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

// router is the recipe of Example, with a middleware after the
// authentication and every stage counted.
func router(iss *sessionkit.Issuer, o sessionkit.MiddlewareOptions, hit func(string)) http.Handler {
	after := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit("after"); next.ServeHTTP(w, r) })
	}
	r := chi.NewRouter()
	r.Method(http.MethodPost, "/auth/refresh", iss.RefreshHandler())
	r.Method(http.MethodPost, "/auth/logout", iss.LogoutHandler())
	r.Route("/api", func(r chi.Router) {
		r.Use(sessionkit.Middleware(iss, o), after)
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			hit("me")
			claims, ok := sessionkit.ClaimsFromContext(r.Context())
			if !ok { // only if a refused request got through
				http.Error(w, "no claims", http.StatusInternalServerError)
				return
			}
			w.Write([]byte("hello " + claims.Subject + "\n"))
		})
		r.With(sessionkit.RequireScope("write")).Post("/notes", func(w http.ResponseWriter, r *http.Request) {
			hit("notes")
			w.WriteHeader(http.StatusCreated)
		})
	})
	return r
}

func TestRecipe(t *testing.T) {
	t.Parallel()
	recipetest.Run(t, router)
}
