module github.com/sessionkit/sessionkit

go 1.25.0

require (
	github.com/alicebob/miniredis/v2 v2.40.0
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/redis/go-redis/v9 v9.22.0
	go.etcd.io/bbolt v1.4.3
	golang.org/x/crypto v0.54.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
