module github.com/sessionkit/sessionkit

go 1.25

require github.com/go-jose/go-jose/v4 v4.1.8
