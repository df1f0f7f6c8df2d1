package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzScanObject drives the JSON reader: no panics, and whatever it
// accepts encoding/json accepts too and decodes to the same strings. What
// encoding/json accepts and the reader refuses must be one of its
// deliberate refusals: a duplicate name, invalid UTF-8 or a lone
// surrogate, nesting deeper than 32 levels. PeekObject agrees with
// ScanObject but for duplicates.
func FuzzScanObject(f *testing.F) {
	f.Add([]byte(`{"alg":"RS256","kid":"k","typ":"at+jwt"}`))
	f.Add([]byte(`{"iss":"a","aud":["x","y"],"exp":1e3,"iat":1,"ver":2,"x":{"y":[1,{"z":null}]}}`))
	f.Add([]byte(`{"a":"\ud83d\ude00\u00e9\n"}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		strs := map[string]string{}
		lists := map[string][]string{}
		err := ScanObject(string(data), func(name string, v *Value) error {
			switch v.Kind() {
			case String:
				strs[name] = v.Str()
			case Array:
				if l, ok := v.Strings(); ok {
					lists[name] = l
				}
			}
			return nil
		})
		peekErr := PeekObject(string(data), func(string, *Value) error { return nil })
		// (ScanObject stops at a duplicate; PeekObject may find worse later.)
		if err == nil && peekErr != nil || peekErr == nil && err != nil && !errors.Is(err, errDuplicate) {
			t.Fatalf("PeekObject says %v, ScanObject %v", peekErr, err)
		}
		// Numbers as json.Number: the reader checks their syntax, not
		// whether they fit a float64.
		var std map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&std)
		if stdErr == nil && (dec.More() || !json.Valid(data)) {
			stdErr = errors.New("trailing data")
		}
		if stdErr == nil && std == nil {
			// null (with any white space) decodes into a map as nil
			// without an error: not an object all the same.
			stdErr = errors.New("not an object")
		}
		if err != nil {
			if stdErr == nil && !deliberateJSONRefusal(data) {
				t.Fatalf("refused what encoding/json reads, for no documented reason: %v", err)
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", stdErr)
		}
		for name, s := range strs {
			if std[name] != s {
				t.Fatalf("member %q decoded as %q, encoding/json says %q", name, s, std[name])
			}
		}
		for name, l := range lists {
			got, _ := std[name].([]any)
			if len(got) != len(l) {
				t.Fatalf("array %q: %q, encoding/json says %v", name, l, got)
			}
			for i := range l {
				if got[i] != l[i] {
					t.Fatalf("array %q: %q, encoding/json says %v", name, l, got)
				}
			}
		}
	})
}

// deliberateJSONRefusal reports whether data, which encoding/json reads,
// breaks one of the reader's own rules: a duplicate member name at any
// depth, invalid UTF-8 or a lone surrogate escape (which encoding/json
// turns into U+FFFD), nesting deeper than 32 levels below the top.
func deliberateJSONRefusal(data []byte) bool {
	return !utf8.Valid(data) || hasLoneSurrogate(data) || jsonDepth(data) > maxDepth+1 || hasDuplicate(data)
}

// hasLoneSurrogate reports whether data has a \uD800-\uDFFF escape not
// part of a high-low pair. (A backslash escaping a backslash is skipped.)
func hasLoneSurrogate(data []byte) bool {
	s := string(data)
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if s[i+1] != 'u' {
			i++
			continue
		}
		r, ok := hex4(s, i+2)
		if !ok || r < 0xd800 || r > 0xdfff {
			continue
		}
		if r >= 0xdc00 || i+12 > len(s) || s[i+6] != '\\' || s[i+7] != 'u' {
			return true
		}
		r2, ok := hex4(s, i+8)
		if !ok || r2 < 0xdc00 || r2 > 0xdfff {
			return true
		}
		i += 11
	}
	return false
}

// jsonDepth is the deepest nesting of data, counted with encoding/json's
// tokenizer (the top-level object is 1).
func jsonDepth(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// hasDuplicate reports whether an object of data, at any depth, has two
// members of the same (decoded) name, by encoding/json's tokenizer.
func hasDuplicate(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		names   map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if name, ok := tok.(string); ok {
				if top.names[name] {
					return true
				}
				top.names[name] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{object: true, names: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
}

// FuzzAppendJSONString checks the writer: its output is valid JSON that
// decodes back to what encoding/json makes of the input, and the reader
// reads it back the same.
func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("quote\" backslash\\ nl\n <tag> & \u2028 \x01")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Fatalf("round trip: %q -> %q", s, back)
		}
		var ours string
		if err := ScanObject(`{"s":`+string(out)+`}`, func(_ string, v *Value) error { ours = v.Str(); return nil }); err != nil || ours != want {
			t.Fatalf("the reader reads %q back as %q (%v)", out, ours, err)
		}
	})
}
