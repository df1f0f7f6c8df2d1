// Package echorecipe shows sessionkit under echo, in its tests:
// echo.WrapMiddleware runs sessionkit.Middleware and
// sessionkit.RequireScope, and echo.WrapHandler the ready-made handlers.
// No adapter is needed: WrapMiddleware calls the rest of echo's chain from
// inside the net/http middleware's next handler, with the request that
// carries the claims, so a refusal, which never calls next, stops the chain.
//
//	e := echo.New()
//	e.POST("/auth/refresh", echo.WrapHandler(iss.RefreshHandler()))
//	e.POST("/auth/logout", echo.WrapHandler(iss.LogoutHandler()))
//	api := e.Group("/api", echo.WrapMiddleware(sessionkit.Middleware(iss, sessionkit.MiddlewareOptions{})))
//	api.GET("/me", me) // sessionkit.ClaimsFromContext(c.Request().Context())
//	api.POST("/notes", createNote, echo.WrapMiddleware(sessionkit.RequireScope("write")))
package echorecipe
