package echorecipe_test

import (
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

// echo runs sessionkit's middleware through echo.WrapMiddleware and its
// handlers through echo.WrapHandler.
func Example() {
	iss, _ := recipetest.NewIssuer() // sessionkit.New(sessionkit.Config{...})

	e := echo.New()
	e.POST("/auth/refresh", echo.WrapHandler(iss.RefreshHandler()))
	e.POST("/auth/logout", echo.WrapHandler(iss.LogoutHandler()))
	api := e.Group("/api", echo.WrapMiddleware(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})))
	api.GET("/me", func(c *echo.Context) error {
		claims, _ := sessionkit.ClaimsFromContext(c.Request().Context())
		return c.String(http.StatusOK, "hello "+claims.Subject+"\n")
	})
	api.POST("/notes", func(c *echo.Context) error {
		return c.NoContent(http.StatusCreated)
	}, echo.WrapMiddleware(sessionkit.RequireScope("write")))

	recipetest.Tour(e, iss)
	// Output:
	// GET /api/me (token): 200 hello alice
	// GET /api/me: 401 WWW-Authenticate: Bearer realm="sessionkit"
	// POST /api/notes (token): 403 WWW-Authenticate: Bearer realm="sessionkit", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"
	// POST /auth/refresh (refresh token): 200
}
