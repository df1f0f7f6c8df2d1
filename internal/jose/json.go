package jose

import (
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The strict JSON reader behind headers, claims and keys, and the string
// writer behind everything sessionkit emits. Reading is one pass over the
// input, linear in its size whatever it holds: duplicate names are found by
// comparing with at most linearMembers earlier names of the same object
// and, past that, through a set of keyed name hashes; nested values are
// read by one loop with a stack, not by recursion; strings are validated
// in place and decoded only when asked for; nothing is copied for values
// nobody reads.

// maxDepth bounds the nesting of arrays and objects below the top-level
// object.
const maxDepth = 32

// linearMembers is how many members of one object are checked for
// duplicates by comparing names; from the next one on, the object's names
// go into the reader's hash set. Sixteen keeps every header and the claims
// of ordinary tokens free of hashing and allocation, and bounds the
// comparisons per name.
const linearMembers = 16

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of JSON values.
const (
	String Kind = iota + 1
	Number
	Bool
	Null
	Array
	Object
)

// Value is one member value of an object read by ScanObject. It refers to
// the scanned data and holds no copy of it.
type Value struct {
	kind Kind
	raw  string
	// escaped reports, for a string, that its raw form has escapes.
	escaped bool
	// strings reports, for an array, that every element is a string.
	strings bool
}

// Kind returns the value's JSON type.
func (v *Value) Kind() Kind { return v.kind }

// Raw returns the value's exact bytes as they appear in the data.
func (v *Value) Raw() string { return v.raw }

// Str returns the decoded string of a String value, "" for other kinds.
// A string without escapes is a substring of the data (no copy).
func (v *Value) Str() string {
	if v.kind != String {
		return ""
	}
	return decodeString(v.raw, v.escaped)
}

// Strings returns the decoded elements of an array whose elements are all
// strings; ok is false for other values. An empty array gives nil, true.
func (v *Value) Strings() (elems []string, ok bool) {
	if v.kind != Array || !v.strings {
		return nil, false
	}
	b := v.raw
	i := skipWS(b, 1)
	for i < len(b) && b[i] == '"' {
		end, escaped, _ := scanString(b, i) // validated by the scan that made v
		elems = append(elems, decodeString(b[i:end], escaped))
		i = skipWS(b, skipWS(b, end)+1) // past ',' or ']'
	}
	return elems, true
}

// NumericDate reads a Number as seconds since the epoch (RFC 7519
// NumericDate; fractions are truncated). It refuses other kinds and values
// outside years 1..9999.
func (v *Value) NumericDate() (int64, bool) {
	if v.kind != Number {
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

var (
	errSyntax    = errors.New("malformed JSON")
	errDuplicate = errors.New("duplicate member name")
	errDepth     = errors.New("JSON nested too deeply")
	errTrailing  = errors.New("trailing data after JSON")
	errNotObject = errors.New("not a JSON object")
)

// ScanObject reads data as one JSON object and calls fn for each member in
// order. It refuses malformed JSON, duplicate member names at any depth
// (after unescaping), invalid UTF-8, lone surrogates, nesting deeper than 32
// levels and trailing bytes. fn's error stops the scan and is returned; v is
// valid only during the call. Names without escapes are substrings of data.
// The work is linear in len(data).
func ScanObject(data string, fn func(name string, v *Value) error) error {
	r := reader{b: data}
	err := r.scan(fn)
	r.set.release()
	return err
}

// PeekObject is ScanObject without the duplicate check: for reading a
// member of an unverified payload (the iss that picks the keys to verify it
// with) that ScanObject reads again, whole, once its signature verified.
// A duplicate can then only make the wrong keys fail the signature. It
// costs about half as much on a payload of many members.
func PeekObject(data string, fn func(name string, v *Value) error) error {
	r := reader{b: data, peek: true}
	return r.scan(fn)
}

// scan is ScanObject on r.
func (r *reader) scan(fn func(name string, v *Value) error) error {
	r.i = skipWS(r.b, 0)
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return errNotObject
	}
	o := r.open(r.i)
	r.i = skipWS(r.b, r.i+1)
	var top [linearMembers]nameRef // the first names, compared directly
	var v Value
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
	} else {
		for {
			r.i = skipWS(r.b, r.i)
			ref, err := r.member(&o, top[:min(o.count, linearMembers)])
			if err != nil {
				return err
			}
			if o.count <= linearMembers {
				top[o.count-1] = ref
			}
			r.i = skipWS(r.b, r.i)
			v = Value{}
			if err := r.value(&v); err != nil {
				return err
			}
			if err := fn(r.nameString(ref), &v); err != nil {
				return err
			}
			r.i = skipWS(r.b, r.i)
			if r.i >= len(r.b) {
				return errSyntax
			}
			c := r.b[r.i]
			r.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return errSyntax
			}
		}
	}
	if skipWS(r.b, r.i) != len(r.b) {
		return errTrailing
	}
	return nil
}

// reader is one pass over a JSON document.
type reader struct {
	b string
	i int
	// names holds the member names of the open nested objects that still
	// compare names, innermost last; each object owns the names from its
	// start on. (The top-level object keeps its own in scan.)
	names []nameRef
	// set holds the hashes of the names of objects with more than
	// linearMembers members.
	set nameSet
	// arena holds the decoded form of names with escapes.
	arena  []byte
	serial uint32 // objects opened so far
	peek   bool   // no duplicate check (PeekObject)
	// work counts name comparisons and hash-set insertions (tests pin it
	// to the number of members).
	work int
}

// nameRef is a member name: a substring of the data, or of the arena for
// names with escapes.
type nameRef struct {
	off, n uint32
	arena  bool
}

// bytesOf returns the name as a substring of the data (arena false) or as
// bytes of the arena.
func (r *reader) bytesOf(x nameRef) (string, []byte) {
	if x.arena {
		return "", r.arena[x.off : x.off+x.n]
	}
	return r.b[x.off : x.off+x.n], nil
}

// nameString returns the name as a string (a copy only for names with
// escapes).
func (r *reader) nameString(x nameRef) string {
	s, a := r.bytesOf(x)
	if x.arena {
		return string(a)
	}
	return s
}

// same reports whether two names are equal.
func (r *reader) same(x, y nameRef) bool {
	if x.n != y.n {
		return false
	}
	xs, xa := r.bytesOf(x)
	ys, ya := r.bytesOf(y)
	switch {
	case !x.arena && !y.arena:
		return xs == ys
	case x.arena && y.arena:
		return string(xa) == string(ya)
	case x.arena:
		return string(xa) == ys
	default:
		return xs == string(ya)
	}
}

// openObject is the duplicate-name state of one object being read.
type openObject struct {
	at     int // the offset of its '{'
	start  int // its first name in reader.names
	serial uint32
	count  int
}

// open starts the duplicate-name state of the object whose '{' is at at.
func (r *reader) open(at int) openObject {
	r.serial++
	return openObject{at: at, start: len(r.names), serial: r.serial}
}

// close ends it.
func (r *reader) close(o *openObject) { r.names = r.names[:o.start] }

// addName counts x, whose opening quote is at pos, as a member of o, or
// reports it as a duplicate. seen are o's names so far while it has at
// most linearMembers; the caller keeps them (adding x when o.count is at
// most linearMembers after the call), and addName moves them into the
// hash set when o outgrows them.
func (r *reader) addName(o *openObject, seen []nameRef, x nameRef, pos int) error {
	o.count++
	if r.peek {
		return nil
	}
	if o.count <= linearMembers {
		r.work += len(seen)
		for _, s := range seen {
			if r.same(s, x) {
				return errDuplicate
			}
		}
		return nil
	}
	if o.count == linearMembers+1 {
		if r.set.slots == nil {
			r.set.init(len(r.b) - r.i)
		}
		for _, s := range seen {
			r.set.add(r.hash(s, o.serial))
		}
		r.work += linearMembers
	}
	r.work++
	if !r.set.add(r.hash(x, o.serial)) && r.earlier(o, x, pos) {
		return errDuplicate
	}
	return nil
}

// nameSeed keys the hash of names, so that nobody can choose names that
// collide.
var nameSeed = maphash.MakeSeed()

// hash is the keyed 64-bit hash of name x of object obj.
func (r *reader) hash(x nameRef, obj uint32) uint64 {
	s, a := r.bytesOf(x)
	var h uint64
	if x.arena {
		h = maphash.Bytes(nameSeed, a)
	} else {
		h = maphash.String(nameSeed, s)
	}
	return h ^ uint64(obj)*0x9e3779b97f4a7c15
}

// earlier reports whether a member of object o before the name x, whose
// opening quote is at pos, has x's name. It reads o again from its start:
// the exact check behind a hash match, which in practice only a real
// duplicate (ending the scan) makes, the hash being keyed and 64 bits wide.
func (r *reader) earlier(o *openObject, x nameRef, pos int) bool {
	want := r.nameString(x)
	sub := reader{b: r.b, i: o.at + 1}
	for {
		sub.i = skipWS(sub.b, sub.i)
		if sub.i >= pos {
			return false
		}
		y, err := sub.name()
		if err != nil {
			return false
		}
		if sub.nameString(y) == want {
			return true
		}
		sub.i = skipWS(sub.b, skipWS(sub.b, sub.i)+1) // past ':'
		if sub.skip(nil) != nil {
			return false
		}
		sub.i = skipWS(sub.b, sub.i) + 1 // past ','
	}
}

// nameSet is an open-addressing set of 64-bit name hashes, for objects
// with many members: eight bytes a name, no copies.
type nameSet struct {
	slots []uint64 // a power of two of them, at most half used; 0 is free
	n     int
}

// setTables recycles the tables of name sets, which a hostile document
// would otherwise make one of per request.
var setTables sync.Pool

// maxTable is the most slots a set starts with: enough for every name a
// 256 KiB document can hold.
const maxTable = 1 << 16

// init gives the set a table large enough for every name the remaining
// bytes of the document can hold (a name and its value take at least 6
// bytes), so that reading a token never grows it.
func (s *nameSet) init(remaining int) {
	want := 2 * (linearMembers + 1 + remaining/6)
	n := 64
	for n < want && n < maxTable {
		n <<= 1
	}
	if t, _ := setTables.Get().(*[]uint64); t != nil && cap(*t) >= n {
		s.slots = (*t)[:n]
		clear(s.slots)
		return
	}
	s.slots = make([]uint64, n)
}

// release hands the table back for another scan.
func (s *nameSet) release() {
	if s.slots != nil && len(s.slots) <= maxTable {
		t := s.slots
		setTables.Put(&t)
	}
	s.slots, s.n = nil, 0
}

// add inserts h and reports whether it was new.
func (s *nameSet) add(h uint64) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	if h == 0 {
		h = 1 // 0 marks a free slot
	}
	mask := uint64(len(s.slots) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		switch s.slots[p] {
		case 0:
			s.slots[p] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

// grow doubles the slots and rehashes (for documents over 256 KiB).
func (s *nameSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(64, 2*len(old)))
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		p := h & mask
		for s.slots[p] != 0 {
			p = (p + 1) & mask
		}
		s.slots[p] = h
	}
}

// isSpace marks JSON whitespace.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// skipWS returns the index of the first non-whitespace byte of b from i on.
func skipWS(b string, i int) int {
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	return i
}

// value reads a member value of the top-level object into v: strings and
// arrays are noted for Str and Strings, everything else is validated.
func (r *reader) value(v *Value) error {
	start := r.i
	if r.i >= len(r.b) {
		return errSyntax
	}
	switch r.b[r.i] {
	case '"':
		end, escaped, ok := scanString(r.b, r.i)
		if !ok {
			return errSyntax
		}
		v.kind, v.escaped, r.i = String, escaped, end
	case '[':
		v.kind, v.strings = Array, true
		if err := r.skip(&v.strings); err != nil {
			return err
		}
	case '{':
		v.kind = Object
		if err := r.skip(nil); err != nil {
			return err
		}
	default:
		k, end, ok := scalar(r.b, r.i)
		if !ok {
			return errSyntax
		}
		v.kind, r.i = k, end
	}
	v.raw = r.b[start:r.i]
	return nil
}

// frame is one open array or object of skip.
type frame struct {
	object bool
	o      openObject
}

// skip validates the value at r.i, a member value of the top-level object
// or an element of one, and moves past it. It is one loop over the bytes
// with a stack of open containers, no recursion: a state machine whose
// states are the labels value (a value is next), more (after a value: a
// comma or the end of its container) and name (a member name is next).
// strs, when set, is cleared if an element of the outermost array is not a
// string.
func (r *reader) skip(strs *bool) error {
	b, i := r.b, r.i
	var stack [maxDepth]frame
	depth := 0
	var c byte
value:
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	if i >= len(b) {
		return errSyntax
	}
	c = b[i]
	if depth == 1 && strs != nil && c != '"' && !stack[0].object {
		*strs = false
	}
	switch {
	case c == '"':
		j := i + 1
		for j < len(b) && !stringStop[b[j]] {
			j++
		}
		if j < len(b) && b[j] == '"' {
			i = j + 1 // the common case: no escapes, ASCII
		} else {
			end, _, ok := scanString(b, i)
			if !ok {
				return errSyntax
			}
			i = end
		}
	case c == '[' || c == '{':
		if depth == maxDepth {
			return errDepth
		}
		f := &stack[depth]
		depth++
		f.object = c == '{'
		if f.object {
			f.o = r.open(i)
		}
		for i++; i < len(b) && isSpace[b[i]]; i++ {
		}
		switch {
		case i < len(b) && (f.object && b[i] == '}' || !f.object && b[i] == ']'):
			i++
			depth--
			goto more
		case f.object:
			goto name
		}
		goto value
	case c == '-' || '0' <= c && c <= '9':
		if i+1 < len(b) && c != '-' && (b[i+1] == ',' || b[i+1] == ']' || b[i+1] == '}') {
			i++ // a one-digit number
			break
		}
		end, ok := number(b, i)
		if !ok {
			return errSyntax
		}
		i = end
	default:
		_, end, ok := scalar(b, i)
		if !ok {
			return errSyntax
		}
		i = end
	}
more:
	if depth == 0 {
		r.i = i
		return nil
	}
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	if i >= len(b) {
		return errSyntax
	}
	c = b[i]
	i++
	switch top := &stack[depth-1]; {
	case c == ',' && top.object:
		goto name
	case c == ',':
		goto value
	case c == '}' && top.object:
		r.close(&top.o)
		depth--
		goto more
	case c == ']' && !top.object:
		depth--
		goto more
	}
	return errSyntax
name:
	r.i = skipWS(b, i)
	if r.peek { // no duplicate check: nothing to decode or remember
		end, _, ok := scanString(b, r.i)
		if !ok {
			return errSyntax
		}
		if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
			return errSyntax
		}
		i++
		goto value
	}
	o := &stack[depth-1].o
	ref, err := r.member(o, r.names[o.start:])
	if err != nil {
		return err
	}
	switch {
	case o.count <= linearMembers:
		r.names = append(r.names, ref)
	case o.count == linearMembers+1:
		r.names = r.names[:o.start] // now in the hash set
	}
	i = r.i
	goto value
}

// member reads the member name at r.i, and the colon after it, as a
// member of o whose names so far are seen (see addName).
func (r *reader) member(o *openObject, seen []nameRef) (nameRef, error) {
	pos := r.i
	ref, err := r.name()
	if err != nil {
		return ref, err
	}
	if err := r.addName(o, seen, ref, pos); err != nil {
		return ref, err
	}
	r.i = skipWS(r.b, r.i)
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return ref, errSyntax
	}
	r.i++
	return ref, nil
}

// scalar validates the number, true, false or null at b[i] and returns its
// kind and end.
func scalar(b string, i int) (Kind, int, bool) {
	switch c := b[i]; {
	case c == 't':
		return Bool, i + 4, strings.HasPrefix(b[i:], "true")
	case c == 'f':
		return Bool, i + 5, strings.HasPrefix(b[i:], "false")
	case c == 'n':
		return Null, i + 4, strings.HasPrefix(b[i:], "null")
	case c == '-' || '0' <= c && c <= '9':
		end, ok := number(b, i)
		return Number, end, ok
	}
	return 0, i, false
}

// number validates the JSON number (RFC 8259 grammar) at b[i] and returns
// its end.
func number(b string, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		i = digits(b, i)
	}
	return i, true
}

// digits returns the index of the first non-digit of b from i on.
func digits(b string, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// stringStop marks the bytes that end the plain run of a JSON string: the
// quote, the backslash, the control characters and the bytes of non-ASCII
// characters (validated as UTF-8 there).
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// scanString validates the JSON string at b[i] (its opening quote): valid
// UTF-8, escapes and surrogate pairs, no control characters. It returns
// the index after the closing quote and whether there were escapes; it
// decodes nothing.
func scanString(b string, i int) (end int, escaped, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false, false
	}
	i++
	for i < len(b) {
		c := b[i]
		if !stringStop[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			n := escapeLen(b, i)
			if n == 0 {
				return i, false, false
			}
			i += n
			escaped = true
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, false, false
			}
			i += size
		default: // a control character
			return i, false, false
		}
	}
	return i, false, false
}

// escapeLen returns the length of the valid escape at b[i] (a backslash),
// a surrogate pair counting as one; 0 if it is not valid.
func escapeLen(b string, i int) int {
	if i+1 >= len(b) {
		return 0
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		r1, ok := hex4(b, i+2)
		if !ok {
			return 0
		}
		if !utf16.IsSurrogate(r1) {
			return 6
		}
		if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
			return 0
		}
		r2, ok := hex4(b, i+8)
		if !ok || utf16.DecodeRune(r1, r2) == utf8.RuneError {
			return 0
		}
		return 12
	}
	return 0
}

// name reads the member name at r.i. A name with escapes is decoded into
// the arena.
func (r *reader) name() (nameRef, error) {
	end, escaped, ok := scanString(r.b, r.i)
	if !ok {
		return nameRef{}, errSyntax
	}
	start := r.i + 1
	r.i = end
	if !escaped {
		return nameRef{off: uint32(start), n: uint32(end - 1 - start)}, nil
	}
	off := len(r.arena)
	r.arena = appendUnescaped(r.arena, r.b[start:end-1])
	return nameRef{off: uint32(off), n: uint32(len(r.arena) - off), arena: true}, nil
}

// decodeString returns the decoded content of raw, a valid JSON string with
// its quotes.
func decodeString(raw string, escaped bool) string {
	s := raw[1 : len(raw)-1]
	if !escaped {
		return s
	}
	return string(appendUnescaped(make([]byte, 0, len(s)), s))
}

// appendUnescaped appends the decoded form of s, the content of a valid
// JSON string, to buf.
func appendUnescaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := strings.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(buf, s[i:]...)
			}
			buf = append(buf, s[i:i+j]...)
			i += j
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r1, _ := hex4(s, i)
			i += 4
			if utf16.IsSurrogate(r1) {
				r2, _ := hex4(s, i+2)
				r1 = utf16.DecodeRune(r1, r2)
				i += 6
			}
			buf = utf8.AppendRune(buf, r1)
		default: // '"', '\\', '/'
			buf = append(buf, e)
		}
	}
	return buf
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

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (as encoding/json does); quotes, backslashes, control characters and
// U+2028/U+2029 are escaped.
func AppendJSONString(buf []byte, s string) []byte {
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
