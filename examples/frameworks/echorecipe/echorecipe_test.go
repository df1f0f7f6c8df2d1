package echorecipe_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

// router is the recipe of Example, with a middleware of echo's own chain
// after the authentication and every stage counted.
func router(iss *sessionkit.Issuer, o sessionkit.MiddlewareOptions, hit func(string)) http.Handler {
	after := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error { hit("after"); return next(c) }
	}
	e := echo.New()
	e.POST("/auth/refresh", echo.WrapHandler(iss.RefreshHandler()))
	e.POST("/auth/logout", echo.WrapHandler(iss.LogoutHandler()))
	api := e.Group("/api", echo.WrapMiddleware(sessionkit.Middleware(iss, o)), after)
	api.GET("/me", func(c *echo.Context) error {
		hit("me")
		claims, ok := sessionkit.ClaimsFromContext(c.Request().Context())
		if !ok { // only if a refused request got through
			return c.String(http.StatusInternalServerError, "no claims\n")
		}
		return c.String(http.StatusOK, "hello "+claims.Subject+"\n")
	})
	api.POST("/notes", func(c *echo.Context) error {
		hit("notes")
		return c.NoContent(http.StatusCreated)
	}, echo.WrapMiddleware(sessionkit.RequireScope("write")))
	return e
}

func TestRecipe(t *testing.T) {
	t.Parallel()
	recipetest.Run(t, router)
}
