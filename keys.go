package sessionkit

import (
	"crypto"
	"sync"
	"sync/atomic"
)

// Algorithm is a JWS signature algorithm sessionkit signs and verifies with.
type Algorithm string

// The supported algorithms. RS256 is the default.
const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of at least 2048 bits.
	RS256 Algorithm = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 Algorithm = "ES256"
	// EdDSA is Ed25519.
	EdDSA Algorithm = "EdDSA"
)

// SigningKey is a private key with its algorithm and key id.
type SigningKey struct {
	pub  publicKey
	priv crypto.Signer
}

// KeySet holds the current signing key and older keys kept for verification.
type KeySet struct {
	mu   sync.Mutex // serializes writers; readers use snap
	snap atomic.Pointer[keySnapshot]
}

// keySnapshot is an immutable view of a KeySet.
type keySnapshot struct {
	signing *SigningKey
	byKID   map[string]*publicKey
	algs    []Algorithm // distinct algorithms of the published keys: the allow-list
}
