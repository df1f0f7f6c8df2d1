package sessionkit

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestHKDFKey32 compares hkdfKey32 with the standard library's HKDF for
// secrets and infos of every length around its buffers' bounds.
func TestHKDFKey32(t *testing.T) {
	for _, info := range [][]byte{nil, []byte(successorInfo), bytes.Repeat([]byte{7}, hmacMaxMsg-1), bytes.Repeat([]byte{8}, hmacMaxMsg+5)} {
		for n := 0; n <= hmacMaxMsg+3; n++ {
			secret := make([]byte, n)
			rand.Read(secret)
			want, err := hkdf.Key(sha256.New, secret, nil, string(info), 32)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hkdfKey32(secret, string(info))
			if err != nil || !bytes.Equal(got[:], want) {
				t.Fatalf("secret %d bytes, info %d bytes: %x, %v; want %x", n, len(info), got, err, want)
			}
		}
	}
}

// TestHKDFKey32Allocates nothing for the successor's derivation.
func TestHKDFKey32Allocates(t *testing.T) {
	secret := make([]byte, 32)
	if n := testing.AllocsPerRun(100, func() { _, _ = hkdfKey32(secret, successorInfo) }); n != 0 {
		t.Fatalf("hkdfKey32 allocates %v times, want 0", n)
	}
}
