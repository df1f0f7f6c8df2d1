module github.com/sessionkit/sessionkit/interop

go 1.25.0

require (
	github.com/auth0/go-jwt-middleware/v2 v2.3.1
	github.com/coreos/go-oidc/v3 v3.21.0
	github.com/sessionkit/sessionkit v0.0.0
)

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/oauth2 v0.36.0 // indirect
	golang.org/x/sync v0.18.0 // indirect
	gopkg.in/go-jose/go-jose.v2 v2.6.3 // indirect
)

replace github.com/sessionkit/sessionkit => ../
