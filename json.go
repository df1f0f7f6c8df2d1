package sessionkit

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON reader and writer for JOSE headers and JWT claims. It is
// faster than encoding/json on the hot path and stricter: duplicate member
// names, invalid UTF-8, lone surrogates, trailing bytes and excessive nesting
// are errors. Application claims are handed to encoding/json afterwards.

const maxJSONDepth = 32

type jsonKind uint8

const (
	jsonString jsonKind = iota + 1
	jsonNumber
	jsonBool
	jsonNull
	jsonArray
	jsonObject
)

// jsonValue is one member value. raw is its exact bytes; str is the decoded
// string for strings; for arrays of strings, strs holds them (nil when an
// element is not a string).
type jsonValue struct {
	kind jsonKind
	raw  string
	str  string
	strs []string
	// allStrings reports, for arrays, that every element is a string.
	allStrings bool
}

func (v *jsonValue) isString() bool { return v.kind == jsonString }

var (
	errJSONSyntax    = errors.New("malformed JSON")
	errJSONDuplicate = errors.New("duplicate member name")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONTrailing  = errors.New("trailing data after JSON")
	errJSONNotObject = errors.New("not a JSON object")
)

type jsonReader struct {
	b string
	i int
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// scanObject reads data as one JSON object and calls fn for each member in
// order. Member names are unique; fn's error stops the scan and is returned.
// Decoded strings without escapes are substrings of data (no copies).
func scanObject(data string, fn func(name string, v *jsonValue) error) error {
	r := jsonReader{b: data}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return errJSONNotObject
	}
	r.i++
	var seenBuf [16]string
	seen := seenBuf[:0]
	var v jsonValue
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
	} else {
		for {
			r.ws()
			name, err := r.str()
			if err != nil {
				return err
			}
			for _, s := range seen {
				if s == name {
					return errJSONDuplicate
				}
			}
			seen = append(seen, name)
			r.ws()
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return errJSONSyntax
			}
			r.i++
			r.ws()
			v = jsonValue{}
			if err := r.value(&v, 1); err != nil {
				return err
			}
			if err := fn(name, &v); err != nil {
				return err
			}
			r.ws()
			if r.i >= len(r.b) {
				return errJSONSyntax
			}
			if r.b[r.i] == '}' {
				r.i++
				break
			}
			if r.b[r.i] != ',' {
				return errJSONSyntax
			}
			r.i++
		}
	}
	r.ws()
	if r.i != len(r.b) {
		return errJSONTrailing
	}
	return nil
}

// value reads one value into v (top level of a member: strings and arrays of
// strings are decoded; everything else is validated and kept raw).
func (r *jsonReader) value(v *jsonValue, depth int) error {
	start := r.i
	if r.i >= len(r.b) {
		return errJSONSyntax
	}
	switch c := r.b[r.i]; {
	case c == '"':
		s, err := r.str()
		if err != nil {
			return err
		}
		v.kind, v.str = jsonString, s
	case c == '[':
		v.kind = jsonArray
		v.allStrings = true
		if err := r.array(v, depth); err != nil {
			return err
		}
	case c == '{':
		v.kind = jsonObject
		if err := r.skipObject(depth); err != nil {
			return err
		}
	case c == 't':
		v.kind = jsonBool
		if err := r.lit("true"); err != nil {
			return err
		}
	case c == 'f':
		v.kind = jsonBool
		if err := r.lit("false"); err != nil {
			return err
		}
	case c == 'n':
		v.kind = jsonNull
		if err := r.lit("null"); err != nil {
			return err
		}
	case c == '-' || '0' <= c && c <= '9':
		v.kind = jsonNumber
		if err := r.num(); err != nil {
			return err
		}
	default:
		return errJSONSyntax
	}
	v.raw = r.b[start:r.i]
	return nil
}

func (r *jsonReader) array(v *jsonValue, depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	r.i++ // [
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return nil
	}
	for {
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == '"' && v != nil {
			s, err := r.str()
			if err != nil {
				return err
			}
			v.strs = append(v.strs, s)
		} else {
			if v != nil {
				v.allStrings, v.strs = false, nil
				v = nil
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		r.ws()
		if r.i >= len(r.b) {
			return errJSONSyntax
		}
		if r.b[r.i] == ']' {
			r.i++
			return nil
		}
		if r.b[r.i] != ',' {
			return errJSONSyntax
		}
		r.i++
	}
}

// skipObject validates a nested object, including duplicate names.
func (r *jsonReader) skipObject(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	r.i++ // {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return nil
	}
	var seen map[string]struct{}
	for {
		r.ws()
		name, err := r.str()
		if err != nil {
			return err
		}
		if seen == nil {
			seen = make(map[string]struct{})
		}
		if _, dup := seen[name]; dup {
			return errJSONDuplicate
		}
		seen[name] = struct{}{}
		r.ws()
		if r.i >= len(r.b) || r.b[r.i] != ':' {
			return errJSONSyntax
		}
		r.i++
		r.ws()
		if err := r.skip(depth + 1); err != nil {
			return err
		}
		r.ws()
		if r.i >= len(r.b) {
			return errJSONSyntax
		}
		if r.b[r.i] == '}' {
			r.i++
			return nil
		}
		if r.b[r.i] != ',' {
			return errJSONSyntax
		}
		r.i++
	}
}

// skip validates any value.
func (r *jsonReader) skip(depth int) error {
	if r.i >= len(r.b) {
		return errJSONSyntax
	}
	switch c := r.b[r.i]; {
	case c == '"':
		_, err := r.str()
		return err
	case c == '[':
		return r.array(nil, depth)
	case c == '{':
		return r.skipObject(depth)
	case c == 't':
		return r.lit("true")
	case c == 'f':
		return r.lit("false")
	case c == 'n':
		return r.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return r.num()
	}
	return errJSONSyntax
}

func (r *jsonReader) lit(s string) error {
	if len(r.b)-r.i < len(s) || r.b[r.i:r.i+len(s)] != s {
		return errJSONSyntax
	}
	r.i += len(s)
	return nil
}

// num validates a JSON number (RFC 8259 grammar).
func (r *jsonReader) num() error {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return errJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return errJSONSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return errJSONSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	return nil
}

// str reads a JSON string starting at '"' and returns it decoded.
func (r *jsonReader) str() (string, error) {
	b := r.b
	if r.i >= len(b) || b[r.i] != '"' {
		return "", errJSONSyntax
	}
	r.i++
	start := r.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			s := b[start:i]
			if !utf8.ValidString(s) {
				return "", errJSONSyntax
			}
			r.i = i + 1
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errJSONSyntax
		}
	}
	// Slow path with escapes.
	out := make([]byte, 0, 32)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", errJSONSyntax
			}
			r.i = i + 1
			return string(out), nil
		case c < 0x20:
			return "", errJSONSyntax
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		// Escape.
		if i+1 >= len(b) {
			return "", errJSONSyntax
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r1, ok := hex4(b, i)
			if !ok {
				return "", errJSONSyntax
			}
			i += 4
			if utf16.IsSurrogate(r1) {
				if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
					return "", errJSONSyntax
				}
				r2, ok := hex4(b, i+2)
				if !ok {
					return "", errJSONSyntax
				}
				dec := utf16.DecodeRune(r1, r2)
				if dec == utf8.RuneError {
					return "", errJSONSyntax
				}
				i += 6
				r1 = dec
			}
			out = utf8.AppendRune(out, r1)
		default:
			return "", errJSONSyntax
		}
	}
	return "", errJSONSyntax
}

func hex4(b string, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(b[i : i+4]) {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// numericDate reads a JSON number as seconds since the epoch (RFC 7519
// NumericDate; fractions are truncated). It refuses non-numbers and values
// outside years 0..9999.
func numericDate(v *jsonValue) (int64, bool) {
	if v.kind != jsonNumber {
		return 0, false
	}
	if n, err := strconv.ParseInt(v.raw, 10, 64); err == nil {
		return n, n >= minNumericDate && n <= maxNumericDate
	}
	f, err := strconv.ParseFloat(v.raw, 64)
	if err != nil || f < minNumericDate || f > maxNumericDate {
		return 0, false
	}
	return int64(f), true
}

const (
	minNumericDate = -62135596800 // 0001-01-01
	maxNumericDate = 253402300799 // 9999-12-31
)

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (as encoding/json does); quotes, backslashes, control characters and
// U+2028/U+2029 are escaped.
func appendJSONString(buf []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexd[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
