package sealedstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/store"
)

// The sealed blob, before base64url:
//
//	header:     version (1 byte) | mode (1 byte) | key id length n (1 byte) |
//	            key id (n bytes) | salt (32 random bytes)
//	ciphertext: AES-256-GCM of the payload, 16-byte tag appended
//
// The AES key is HKDF-SHA256(ring key, salt, purpose): a fresh key for every
// blob, so the fixed all-zero nonce is never used twice with one key and no
// usage bound applies to a ring key (a salt collision takes about 2^128
// blobs). The associated data is purpose | 0 | uvarint(len(issuer)) | issuer
// | header: a blob opens only for the issuer, mode and key it was sealed for,
// and no header byte can change unnoticed.
const (
	purpose       = "sessionkit/sealed-session/v1"
	formatVersion = 1
	saltLen       = 32
	tagLen        = 16
	// headerFixed is the header without the key id.
	headerFixed = 3 + saltLen
)

// Modes, in the header: a blob of one mode never opens in the other.
const (
	modeStateless byte = 1
	modeHybrid    byte = 2
)

// zeroNonce is the GCM nonce: each blob has its own key (see above).
var zeroNonce [12]byte

var b64 = base64.RawURLEncoding.Strict()

// data is what a blob carries: the session, as of the blob's generation, and
// the SHA-256 of that generation's refresh secret.
type data struct {
	s    store.Session
	hash [32]byte
}

// sealer seals and opens blobs for one issuer and mode.
type sealer struct {
	ring ring
	mode byte
	// adPrefix is purpose | 0 | uvarint(len(issuer)) | issuer.
	adPrefix []byte
}

func newSealer(r ring, issuer string, mode byte) sealer {
	ad := make([]byte, 0, len(purpose)+1+binary.MaxVarintLen64+len(issuer))
	ad = append(ad, purpose...)
	ad = append(ad, 0)
	ad = binary.AppendUvarint(ad, uint64(len(issuer)))
	ad = append(ad, issuer...)
	return sealer{ring: r, mode: mode, adPrefix: ad}
}

// aead derives the blob key from k and salt.
func (k *ringKey) aead(salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, k.secret[:], salt, purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (x *sealer) ad(header []byte) []byte {
	ad := make([]byte, 0, len(x.adPrefix)+len(header))
	ad = append(ad, x.adPrefix...)
	return append(ad, header...)
}

// sealedLen is the length of the base64url blob sealing d.
func (x *sealer) sealedLen(d *data) int {
	return b64.EncodedLen(headerFixed + len(x.ring.current.id) + payloadLen(d) + tagLen)
}

// seal seals d under the current key with a fresh salt, returning the blob
// in base64url.
func (x *sealer) seal(d *data) (string, error) {
	raw, err := x.sealRaw(d)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(raw), nil
}

// sealRaw is seal without the base64url encoding.
func (x *sealer) sealRaw(d *data) ([]byte, error) {
	k := x.ring.current
	pt := appendPayload(nil, d)
	raw := make([]byte, 0, headerFixed+len(k.id)+len(pt)+tagLen)
	raw = append(raw, formatVersion, x.mode, byte(len(k.id)))
	raw = append(raw, k.id...)
	raw = raw[:len(raw)+saltLen]
	salt := raw[len(raw)-saltLen:]
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("sealedstore: %w: reading random salt: %w", store.ErrUnavailable, err)
	}
	aead, err := k.aead(salt)
	if err != nil {
		return nil, fmt.Errorf("sealedstore: %w: %w", store.ErrUnavailable, err)
	}
	return aead.Seal(raw, zeroNonce[:], pt, x.ad(raw)), nil
}

// Reasons a blob does not open. They wrap store.ErrNotFound and say nothing
// about the blob's content.
var (
	errMalformed  = fmt.Errorf("%w: sealedstore: malformed handle", store.ErrNotFound)
	errUnknownKey = fmt.Errorf("%w: sealedstore: handle sealed under a key that is not in the key ring", store.ErrNotFound)
	errTampered   = fmt.Errorf("%w: sealedstore: handle does not open (altered, or sealed for another issuer or mode)", store.ErrNotFound)
)

// open decodes and opens a base64url blob.
func (x *sealer) open(blob string) (*data, error) {
	if len(blob) > store.MaxHandleLen || len(blob) < b64.EncodedLen(headerFixed+1+tagLen) {
		return nil, errMalformed
	}
	for i := 0; i < len(blob); i++ {
		// The decoder skips '\r' and '\n'; nothing outside the alphabet
		// may pass.
		if !isB64URL(blob[i]) {
			return nil, errMalformed
		}
	}
	raw, err := b64.DecodeString(blob)
	if err != nil {
		return nil, errMalformed
	}
	if raw[0] != formatVersion || raw[1] != x.mode {
		return nil, errTampered
	}
	n := int(raw[2])
	if n == 0 || n > MaxKeyIDLen || len(raw) < headerFixed+n+tagLen {
		return nil, errMalformed
	}
	k := x.ring.byID[string(raw[3:3+n])]
	if k == nil {
		return nil, errUnknownKey
	}
	header := raw[:headerFixed+n]
	aead, err := k.aead(header[3+n:])
	if err != nil {
		return nil, fmt.Errorf("sealedstore: %w: %w", store.ErrUnavailable, err)
	}
	pt, err := aead.Open(nil, zeroNonce[:], raw[len(header):], x.ad(header))
	if err != nil {
		return nil, errTampered
	}
	d, err := decodePayload(pt)
	if err != nil {
		// Authentic but undecodable: only a bug or a leaked key makes one.
		return nil, errTampered
	}
	return d, nil
}

// The payload: generation (uvarint), hash (32 bytes), CreatedAt, LastUsedAt,
// IdleExpiresAt, ExpiresAt (varint Unix milliseconds), then ID, Subject,
// ClientID, Scope, Device.UserAgent, Device.IP (uvarint length, bytes), then
// Claims (uvarint length+1, bytes; 0 for nil).

func (d *data) times() [4]*time.Time {
	return [4]*time.Time{&d.s.CreatedAt, &d.s.LastUsedAt, &d.s.IdleExpiresAt, &d.s.ExpiresAt}
}

func (d *data) strings() [6]*string {
	return [6]*string{&d.s.ID, &d.s.Subject, &d.s.ClientID, &d.s.Scope, &d.s.Device.UserAgent, &d.s.Device.IP}
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// payloadLen is len(appendPayload(nil, d)).
func payloadLen(d *data) int {
	n := uvarintLen(d.s.Generation) + len(d.hash)
	for _, t := range d.times() {
		n += varintLen(t.UnixMilli())
	}
	for _, s := range d.strings() {
		n += uvarintLen(uint64(len(*s))) + len(*s)
	}
	if d.s.Claims == nil {
		return n + 1
	}
	return n + uvarintLen(uint64(len(d.s.Claims))+1) + len(d.s.Claims)
}

func appendPayload(b []byte, d *data) []byte {
	b = binary.AppendUvarint(b, d.s.Generation)
	b = append(b, d.hash[:]...)
	for _, t := range d.times() {
		b = binary.AppendVarint(b, t.UnixMilli())
	}
	for _, s := range d.strings() {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	if d.s.Claims == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(d.s.Claims))+1)
	return append(b, d.s.Claims...)
}

var errPayload = errors.New("sealedstore: malformed payload")

// decodePayload is the inverse of appendPayload. It refuses anything but
// exactly one payload.
func decodePayload(b []byte) (*data, error) {
	r := reader{b: b}
	d := new(data)
	d.s.Generation = r.uvarint()
	copy(d.hash[:], r.take(uint64(len(d.hash))))
	for _, t := range d.times() {
		*t = time.UnixMilli(r.varint()).UTC()
	}
	for _, s := range d.strings() {
		*s = string(r.take(r.uvarint()))
	}
	if n := r.uvarint(); n > 0 {
		d.s.Claims = append([]byte{}, r.take(n-1)...)
	}
	if r.bad || len(r.b) != 0 || d.s.Generation == 0 {
		return nil, errPayload
	}
	return d, nil
}

// reader reads a payload; after the first error every read returns zero
// values and bad stays set.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) take(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func isB64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
