// Package ginauth runs sessionkit's net/http middleware in a gin chain.
//
// gin's handlers are not nested the way net/http middleware is: a
// gin.HandlerFunc that returns without calling c.Abort lets gin run the next
// handler of the chain, even when the middleware has already answered 401.
// Wrap closes that gap: the rest of the chain runs only if the middleware
// called its next handler, and then with the request that middleware passed
// on, whose context carries the claims.
//
//	api := r.Group("/api", ginauth.Wrap(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})))
//	api.GET("/me", func(c *gin.Context) {
//		claims, _ := ginauth.Claims(c)
//		c.String(http.StatusOK, "hello %s\n", claims.Subject)
//	})
//	api.POST("/notes", ginauth.Wrap(sessionkit.RequireScope("write")), createNote)
package ginauth

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
)

// Wrap returns a gin.HandlerFunc that runs mw (sessionkit.Middleware,
// sessionkit.RequireScope or any net/http middleware) over the request.
// When mw calls its next handler, Wrap puts the request mw passed on into
// c.Request and runs the rest of the chain (c.Next) from there, so later
// handlers see the claims (see Claims). When mw answers by itself (a
// refusal: 401, 403, 503, a redirect of a MiddlewareOptions.WriteRefusal),
// Wrap calls c.Abort and no later handler runs.
//
// mw writes to c.Writer, gin's own ResponseWriter, so the status line and
// headers are written once, by whoever answers. The rest of the chain
// writes to c.Writer too: mw must hand its next handler the ResponseWriter
// it was given (sessionkit's middleware does), not a wrapper of its own.
func Wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// Claims returns the claims sessionkit.Middleware verified for c's request
// (sessionkit.ClaimsFromContext). ok is false when there are none: no
// Middleware ran before it through Wrap, or the request was anonymous under
// MiddlewareOptions.Optional.
func Claims(c *gin.Context) (claims *sessionkit.Claims, ok bool) {
	return sessionkit.ClaimsFromContext(c.Request.Context())
}
