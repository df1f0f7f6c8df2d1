package ginauth_test

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/ginauth"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

// The ready-made handlers are plain http.Handlers (gin.WrapH); the
// middleware runs through Wrap, which stops gin's chain when it refuses.
func ExampleWrap() {
	iss, _ := recipetest.NewIssuer() // sessionkit.New(sessionkit.Config{...})

	r := gin.New()
	r.POST("/auth/refresh", gin.WrapH(iss.RefreshHandler()))
	r.POST("/auth/logout", gin.WrapH(iss.LogoutHandler()))
	api := r.Group("/api", ginauth.Wrap(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})))
	api.GET("/me", func(c *gin.Context) {
		claims, _ := ginauth.Claims(c)
		c.String(http.StatusOK, "hello %s\n", claims.Subject)
	})
	api.POST("/notes", ginauth.Wrap(sessionkit.RequireScope("write")), func(c *gin.Context) {
		c.Status(http.StatusCreated)
	})

	recipetest.Tour(r, iss)
	// Output:
	// GET /api/me (token): 200 hello alice
	// GET /api/me: 401 WWW-Authenticate: Bearer realm="sessionkit"
	// POST /api/notes (token): 403 WWW-Authenticate: Bearer realm="sessionkit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"
	// POST /auth/refresh (refresh token): 200
}
