package sessionkit

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionkit/sessionkit/store/sealedstore"
)

// The stored key ring, one JSON document (the blob of store.KeyStore):
//
//	{"format": "sessionkit/key-ring/v1",
//	 "ring":   {"issuer": ISS, "keys": [{"kid", "alg", "state", "published",
//	            "promote_at", "promoted", "stopped", "retire_at"}, ...]},
//	 "kek":    KEK id,
//	 "nonce":  12 random bytes (base64),
//	 "sealed": AES-256-GCM of the private keys (base64)}
//
// "ring" is in clear: key ids, algorithms, states and schedule times, for
// listing. The private keys, PKCS #8 DER in the order of ring.keys, are
// sealed together under the KEK named by "kek": the AES key is
// HKDF-SHA256(KEK secret, info kekInfo), so the KEK's secret is never used
// raw (the sealed store derives its own keys from a ring secret with other
// labels), and the nonce is random per seal. The associated data is
// ringPurpose, 0, the ring's store version (uvarint) and the exact bytes of
// "ring": the seal opens only with the clear part it was written with, for
// the version it was stored at, so someone who can write to the store but
// lacks the KEK can neither change a key's state or times, nor move a key
// between rings or issuers, nor put back an older ring (its version
// differs). Every swap seals anew under the current KEK.
const (
	ringFormat  = "sessionkit/key-ring/v1"
	ringPurpose = "sessionkit/key-ring/v1"
	kekInfo     = "sessionkit/key-ring/v1 key-encryption key"
)

// KeyState is a managed key's place in its rotation.
type KeyState string

// The states of a managed key.
const (
	// KeyNext is a published key waiting to be promoted: it is in the JWKS
	// and verifies, and signs nothing yet.
	KeyNext KeyState = "next"
	// KeyCurrent is the signing key.
	KeyCurrent KeyState = "current"
	// KeyPrevious is a key that stopped signing: it keeps verifying the
	// tokens it signed until it is retired.
	KeyPrevious KeyState = "previous"
)

// ringDoc is the stored document.
type ringDoc struct {
	Format string          `json:"format"`
	Ring   json.RawMessage `json:"ring"`
	KEK    string          `json:"kek"`
	Nonce  []byte          `json:"nonce"`
	Sealed []byte          `json:"sealed"`
}

// ringClear is the clear part of the document.
type ringClear struct {
	Issuer string        `json:"issuer"`
	Keys   []ringKeyInfo `json:"keys"`
}

// ringKeyInfo is one key's clear part.
type ringKeyInfo struct {
	KID       string    `json:"kid"`
	Alg       Algorithm `json:"alg"`
	State     KeyState  `json:"state"`
	Published time.Time `json:"published"`
	PromoteAt time.Time `json:"promote_at,omitzero"` // next keys
	Promoted  time.Time `json:"promoted,omitzero"`   // current and previous keys
	Stopped   time.Time `json:"stopped,omitzero"`    // previous keys
	RetireAt  time.Time `json:"retire_at,omitzero"`  // previous keys
}

// ringKey is one key of a decoded ring.
type ringKey struct {
	ringKeyInfo
	key *SigningKey
}

// keyRing is a decoded ring: immutable once installed.
type keyRing struct {
	version uint64
	kek     string     // the KEK its private keys were sealed under
	keys    []*ringKey // previous keys (oldest first), the current key, the next key
	snap    *keySnapshot
}

// current returns the ring's signing key.
func (r *keyRing) current() *ringKey { return keyIn(r.keys, KeyCurrent) }

// next returns the ring's published next key, or nil.
func (r *keyRing) next() *ringKey { return keyIn(r.keys, KeyNext) }

// keyIn returns the first of keys in state s, or nil.
func keyIn(keys []*ringKey, s KeyState) *ringKey {
	for _, k := range keys {
		if k.State == s {
			return k
		}
	}
	return nil
}

// find returns the key kid, or nil.
func (r *keyRing) find(kid string) *ringKey {
	for _, k := range r.keys {
		if k.KID == kid {
			return k
		}
	}
	return nil
}

// edit returns a copy of r's keys that the caller may change, key by key:
// the keys are copies, the signing keys shared.
func (r *keyRing) edit() []*ringKey {
	keys := make([]*ringKey, len(r.keys))
	for i, k := range r.keys {
		c := *k
		keys[i] = &c
	}
	return keys
}

// makeRing checks keys (one current key, at most one next key, distinct
// kids, each state's times), orders them and builds the snapshot.
func makeRing(version uint64, kek string, keys []*ringKey) (*keyRing, error) {
	r := &keyRing{version: version, kek: kek}
	var cur, next *ringKey
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.KID] {
			return nil, fmt.Errorf("key %q appears twice", shorten(k.KID))
		}
		seen[k.KID] = true
		if k.key.KeyID() != k.KID || k.key.Algorithm() != k.Alg {
			return nil, fmt.Errorf("key %q: its private key has kid %q and algorithm %s", shorten(k.KID), k.key.KeyID(), k.key.Algorithm())
		}
		ok := !k.Published.IsZero()
		switch k.State {
		case KeyCurrent:
			ok = ok && cur == nil && !k.Promoted.IsZero()
			cur = k
		case KeyNext:
			ok = ok && next == nil && !k.PromoteAt.IsZero()
			next = k
		case KeyPrevious:
			ok = ok && !k.Promoted.IsZero() && !k.Stopped.IsZero() && !k.RetireAt.IsZero()
			r.keys = append(r.keys, k)
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("key %q: state %q and its times do not agree (or the state repeats)", shorten(k.KID), shorten(string(k.State)))
		}
	}
	if cur == nil {
		return nil, errors.New("no current key")
	}
	slices.SortStableFunc(r.keys, func(a, b *ringKey) int { return a.Stopped.Compare(b.Stopped) })
	r.keys = append(r.keys, cur)
	if next != nil {
		r.keys = append(r.keys, next)
	}
	published := make([]*SigningKey, len(r.keys))
	for i, k := range r.keys {
		published[i] = k.key
	}
	r.snap = newSnapshot(cur.key, published)
	return r, nil
}

// kekRing is a validated key-encryption key ring with each key's AES-GCM.
type kekRing struct {
	current string
	aeads   map[string]cipher.AEAD
}

// newKEKRing validates ks and derives each key's AEAD.
func newKEKRing(ks sealedstore.Keys) (*kekRing, error) {
	if err := ks.Validate(); err != nil {
		return nil, err
	}
	r := &kekRing{current: ks.Current.ID, aeads: make(map[string]cipher.AEAD, 1+len(ks.Previous))}
	for _, k := range append([]sealedstore.Key{ks.Current}, ks.Previous...) {
		key, err := hkdf.Key(sha256.New, k.Secret, nil, kekInfo, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if r.aeads[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ringAD is the associated data of a ring's seal.
func ringAD(version uint64, public []byte) []byte {
	ad := make([]byte, 0, len(ringPurpose)+1+binary.MaxVarintLen64+len(public))
	ad = append(ad, ringPurpose...)
	ad = append(ad, 0)
	ad = binary.AppendUvarint(ad, version)
	return append(ad, public...)
}

// encodeRing writes keys, for issuer, as the document to store at version,
// sealed under the current KEK.
func encodeRing(issuer string, version uint64, keys []*ringKey, keks *kekRing) ([]byte, error) {
	c := ringClear{Issuer: issuer, Keys: make([]ringKeyInfo, len(keys))}
	ders := make([][]byte, len(keys))
	for i, k := range keys {
		c.Keys[i] = k.ringKeyInfo
		der, err := x509.MarshalPKCS8PrivateKey(k.key.priv)
		if err != nil {
			return nil, fmt.Errorf("sessionkit: managed keys: encoding key %q: %w", k.KID, err)
		}
		ders[i] = der
	}
	public, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	pt, err := json.Marshal(ders)
	for _, der := range ders {
		clear(der) // copies of private keys: gone once sealed
	}
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	doc := ringDoc{Format: ringFormat, Ring: public, KEK: keks.current, Nonce: make([]byte, 12)}
	if _, err := rand.Read(doc.Nonce); err != nil {
		return nil, err
	}
	doc.Sealed = keks.aeads[keks.current].Seal(nil, doc.Nonce, pt, ringAD(version, public))
	return json.Marshal(doc)
}

// Reasons a stored ring does not decode. A ring the KEK cannot open is the
// application's configuration (ErrInvalidConfig); a ring that does not
// parse, or belongs elsewhere, leaves no keys (ErrKeysUnavailable).
var (
	errRingMalformed = fmt.Errorf("%w: managed keys: the stored key ring is malformed", ErrKeysUnavailable)
	errRingForeign   = fmt.Errorf("%w: managed keys: the stored key ring belongs to another issuer", ErrKeysUnavailable)
)

// decodeRing opens and checks the document blob stored at version for
// issuer. Keys already open in known (by kid) are taken from it instead of
// being parsed again.
func decodeRing(issuer string, version uint64, blob []byte, keks *kekRing, known *keyRing) (*keyRing, error) {
	var doc ringDoc
	if err := json.Unmarshal(blob, &doc); err != nil || doc.Format != ringFormat || len(doc.Nonce) != 12 {
		if err == nil && doc.Format != ringFormat {
			return nil, fmt.Errorf("%w (format %q, this version reads %q)", errRingMalformed, shorten(doc.Format), ringFormat)
		}
		return nil, errRingMalformed
	}
	var c ringClear
	if err := json.Unmarshal(doc.Ring, &c); err != nil {
		return nil, errRingMalformed
	}
	if c.Issuer != issuer {
		return nil, errRingForeign
	}
	aead := keks.aeads[doc.KEK]
	if aead == nil {
		return nil, fmt.Errorf("%w: managed keys: the key ring is sealed under KEK %q, which the configured KEK ring lacks", ErrInvalidConfig, shorten(doc.KEK))
	}
	pt, err := aead.Open(nil, doc.Nonce, doc.Sealed, ringAD(version, doc.Ring))
	if err != nil {
		return nil, fmt.Errorf("%w: managed keys: the key ring does not open under KEK %q: a wrong secret for that id, or the stored ring was altered", ErrInvalidConfig, shorten(doc.KEK))
	}
	defer clear(pt)
	var ders [][]byte
	if err := json.Unmarshal(pt, &ders); err != nil || len(ders) != len(c.Keys) {
		return nil, errRingMalformed
	}
	keys := make([]*ringKey, len(c.Keys))
	for i, info := range c.Keys {
		k := &ringKey{ringKeyInfo: info}
		if known != nil {
			if old := known.find(info.KID); old != nil {
				k.key = old.key
			}
		}
		if k.key == nil {
			if k.key, err = parsePKCS8(ders[i]); err != nil {
				return nil, fmt.Errorf("%w: managed keys: key %q: %w", ErrKeysUnavailable, shorten(info.KID), err)
			}
		}
		clear(ders[i])
		keys[i] = k
	}
	r, err := makeRing(version, doc.KEK, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRingMalformed, err)
	}
	return r, nil
}

// parsePKCS8 reads a signing key from PKCS #8 DER, with the checks of
// ParseSigningKeyPEM.
func parsePKCS8(der []byte) (*SigningKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, keyErr("cannot parse the private key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, keyErr("unsupported key type %T", key)
	}
	return newSigningKey(signer)
}
