module github.com/sessionkit/sessionkit

go 1.25
