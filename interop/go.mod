module github.com/sessionkit/sessionkit/interop

go 1.25.0

require github.com/sessionkit/sessionkit v0.0.0

require github.com/go-jose/go-jose/v4 v4.1.8 // indirect

replace github.com/sessionkit/sessionkit => ../
