package sessionkit

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// hkdfKey32 is HKDF-SHA256 (RFC 5869) without salt, one 32-byte block of
// output: hkdf.Key(sha256.New, secret, nil, info, 32), computed on stack
// buffers. The standard library's builds two HMACs with four hash states
// on the heap per call, most of the allocations of a refresh's successor
// seal; this computes the same bytes (TestHKDFKey32 compares them) from
// sha256.Sum256 alone. Inputs beyond its buffers go to hkdf.Key.
func hkdfKey32(secret []byte, info string) ([32]byte, error) {
	if len(secret) > hmacMaxMsg || len(info)+1 > hmacMaxMsg {
		k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
		var out [32]byte
		copy(out[:], k)
		return out, err
	}
	var zero [sha256.Size]byte // RFC 5869 §2.2: no salt is HashLen zeros
	prk := hmacSHA256(zero[:], secret)
	var t [hmacMaxMsg]byte // RFC 5869 §2.3: T(1) = HMAC(PRK, info | 0x01)
	n := copy(t[:], info)
	t[n] = 1
	return hmacSHA256(prk[:], t[:n+1]), nil
}

// hmacMaxMsg bounds the messages hmacSHA256 takes.
const hmacMaxMsg = 128

// hmacSHA256 is HMAC-SHA256 (RFC 2104) of msg (at most hmacMaxMsg bytes)
// under key (at most one 64-byte block).
func hmacSHA256(key, msg []byte) [32]byte {
	const block = 64
	var buf [block + hmacMaxMsg]byte
	for i := range block {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ 0x36
	}
	n := copy(buf[block:], msg)
	inner := sha256.Sum256(buf[:block+n])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[block:], inner[:])
	return sha256.Sum256(buf[:block+sha256.Size])
}
