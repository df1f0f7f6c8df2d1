package ginauth_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/frameworks/ginauth"
	"github.com/sessionkit/sessionkit/examples/frameworks/internal/recipetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug lines on standard output
	os.Exit(m.Run())
}

// router is the recipe of ExampleWrap, with a handler of gin's own chain
// after the authentication and every stage counted.
func router(iss *sessionkit.Issuer, o sessionkit.MiddlewareOptions, hit func(string)) http.Handler {
	r := gin.New()
	r.POST("/auth/refresh", gin.WrapH(iss.RefreshHandler()))
	r.POST("/auth/logout", gin.WrapH(iss.LogoutHandler()))
	api := r.Group("/api", ginauth.Wrap(sessionkit.Middleware(iss, o)), func(*gin.Context) { hit("after") })
	api.GET("/me", func(c *gin.Context) {
		hit("me")
		claims, ok := ginauth.Claims(c)
		if !ok { // only if Wrap let a refused request through
			c.String(http.StatusInternalServerError, "no claims\n")
			return
		}
		c.String(http.StatusOK, "hello %s\n", claims.Subject)
	})
	api.POST("/notes", ginauth.Wrap(sessionkit.RequireScope("write")), func(c *gin.Context) {
		hit("notes")
		c.Status(http.StatusCreated)
	})
	return r
}

func TestRecipe(t *testing.T) {
	t.Parallel()
	recipetest.Run(t, router)
}

// An outer gin middleware's code after c.Next sees the status Wrap's
// middleware answered, whether it refused or passed; a handler after Wrap
// sees the request the middleware passed on (here without the query token).
func TestWrapInsideGinChain(t *testing.T) {
	t.Parallel()
	iss, _ := recipetest.NewIssuer()
	toks := recipetest.Login(iss, "alice", "read")
	cases := []struct {
		name, path string
		status     int
		query      string // what the handler sees of access_token
	}{
		{"refused", "/me", http.StatusUnauthorized, ""},
		{"passed, token in the query", "/me?access_token=" + toks.AccessToken, http.StatusOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen int
			query := "(handler did not run)"
			r := gin.New()
			r.Use(func(c *gin.Context) { c.Next(); seen = c.Writer.Status() })
			r.Use(ginauth.Wrap(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{AllowQueryToken: true})))
			r.GET("/me", func(c *gin.Context) {
				query = c.Query("access_token")
				if claims, ok := ginauth.Claims(c); !ok || claims.Subject != "alice" {
					t.Errorf("Claims = %v, %v; want alice's", claims, ok)
				}
				c.Status(http.StatusOK)
			})
			a := recipetest.Do(r, recipetest.Request{Method: "GET", Path: tc.path})
			if a.Status != tc.status || seen != tc.status || a.Written != 1 {
				t.Errorf("status %d, outer middleware saw %d, written %d times; want %d, %d, once", a.Status, seen, a.Written, tc.status, tc.status)
			}
			if tc.status == http.StatusOK && query != tc.query {
				t.Errorf("the handler saw access_token %q, want %q", query, tc.query)
			}
		})
	}
}

// Under MiddlewareOptions.Optional an anonymous request goes on down the
// chain, and Claims says there are none.
func TestClaimsOptional(t *testing.T) {
	t.Parallel()
	iss, _ := recipetest.NewIssuer()
	r := gin.New()
	r.GET("/", ginauth.Wrap(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{Optional: true})), func(c *gin.Context) {
		if claims, ok := ginauth.Claims(c); ok {
			t.Errorf("Claims of an anonymous request = %v, true; want none", claims)
		}
		c.Status(http.StatusNoContent)
	})
	if a := recipetest.Do(r, recipetest.Request{Method: "GET", Path: "/"}); a.Status != http.StatusNoContent {
		t.Errorf("anonymous GET /: %d, want 204", a.Status)
	}
}
