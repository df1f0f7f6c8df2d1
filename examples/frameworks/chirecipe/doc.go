// Package chirecipe shows sessionkit under chi, in its tests: chi routes
// net/http middleware and handlers as they are, so sessionkit.Middleware
// and sessionkit.RequireScope go into r.Use and r.With, the ready-made
// handlers into r.Method, and a refusal stops the chain by itself.
//
//	r := chi.NewRouter()
//	r.Method(http.MethodPost, "/auth/refresh", iss.RefreshHandler())
//	r.Method(http.MethodPost, "/auth/logout", iss.LogoutHandler())
//	r.Route("/api", func(r chi.Router) {
//		r.Use(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{}))
//		r.Get("/me", me) // sessionkit.ClaimsFromContext(r.Context())
//		r.With(sessionkit.RequireScope("write")).Post("/notes", createNote)
//	})
package chirecipe
