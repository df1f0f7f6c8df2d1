module github.com/sessionkit/sessionkit/interop

go 1.25.0

require github.com/sessionkit/sessionkit v0.0.0

replace github.com/sessionkit/sessionkit => ../
