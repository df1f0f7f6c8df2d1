package jose

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// members returns n distinct members "m0":0,"m1":0,... joined by commas.
func members(n int, name func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strconv.Quote(name(i)) + ":0"
	}
	return strings.Join(parts, ",")
}

func plainName(i int) string { return "m" + strconv.Itoa(i) }

func TestScanObject(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	deepObj := func(n int) string { return `{"x":` + strings.Repeat(`{"a":`, n) + "0" + strings.Repeat("}", n) + `}` }
	tests := []struct {
		name string
		in   string
		want error // nil: accepted
	}{
		{"empty object", `{}`, nil},
		{"whitespace around", " \t\r\n{ \"a\" : 1 } \n", nil},
		{"every kind", `{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[1,"b",{}],"o":{"p":[]}}`, nil},
		{"escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, nil},
		{"UTF-8", `{"é":"日本"}`, nil},
		{"top-level duplicate", `{"a":1,"a":2}`, errDuplicate},
		{"duplicate after unescaping", `{"a":1,"\u0061":2}`, errDuplicate},
		{"duplicate, both escaped", `{"\u0061":1,"\u0061":2}`, errDuplicate},
		{"names differing only in case", `{"use":"enc","USE":"sig"}`, nil},
		{"nested duplicate", `{"x":{"a":1,"b":2,"a":3}}`, errDuplicate},
		{"duplicate in an array's object", `{"x":[{"a":1},{"a":1,"a":2}]}`, errDuplicate},
		{"same name in sibling objects", `{"x":[{"a":1},{"a":2}],"a":{"a":{"a":0}}}`, nil},
		{"duplicate deep down", `{"x":[[[{"y":{"k":1,"k":2}}]]]}`, errDuplicate},
		{"32 levels", deep(32), nil},
		{"33 levels", deep(33), errDepth},
		{"32 levels of objects", deepObj(32), nil},
		{"33 levels of objects", deepObj(33), errDepth},
		{"not an object", `["a"]`, errNotObject},
		{"a string", `"a"`, errNotObject},
		{"empty", ``, errNotObject},
		{"trailing bytes", `{}x`, errTrailing},
		{"two objects", `{}{}`, errTrailing},
		{"unclosed", `{"a":1`, errSyntax},
		{"unclosed nested", `{"a":[1,{"b":2}`, errSyntax},
		{"trailing comma", `{"a":1,}`, errSyntax},
		{"trailing comma in array", `{"a":[1,]}`, errSyntax},
		{"missing colon", `{"a" 1}`, errSyntax},
		{"unquoted name", `{a:1}`, errSyntax},
		{"single quotes", `{'a':1}`, errSyntax},
		{"leading zero", `{"a":01}`, errSyntax},
		{"bare minus", `{"a":-}`, errSyntax},
		{"dot without digits", `{"a":1.}`, errSyntax},
		{"exponent without digits", `{"a":1e}`, errSyntax},
		{"plus sign", `{"a":+1}`, errSyntax},
		{"NaN", `{"a":NaN}`, errSyntax},
		{"truncated literal", `{"a":tru}`, errSyntax},
		{"control character", "{\"a\":\"x\ny\"}", errSyntax},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", errSyntax},
		{"invalid UTF-8 in a name", "{\"\xc3\":1}", errSyntax},
		{"UTF-8 surrogate", "{\"a\":\"\xed\xa0\x80\"}", errSyntax},
		{"lone high surrogate", `{"a":"\ud83d"}`, errSyntax},
		{"lone low surrogate", `{"a":"\ude00"}`, errSyntax},
		{"reversed surrogates", `{"a":"\ude00\ud83d"}`, errSyntax},
		{"bad escape", `{"a":"\x"}`, errSyntax},
		{"short unicode escape", `{"a":"\u12"}`, errSyntax},
		{"unterminated string", `{"a":"abc}`, errSyntax},
		{"invalid UTF-8 deep down", "{\"a\":[[\"\xff\"]]}", errSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ScanObject(tt.in, func(string, *Value) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Fatalf("ScanObject(%q) = %v, want %v", tt.in, err, tt.want)
			}
			if err == nil && !json.Valid([]byte(tt.in)) {
				t.Fatalf("accepted what encoding/json calls invalid")
			}
		})
	}
}

// TestPeekObject: the reader without its duplicate check, for unverified
// payloads, refuses everything else ScanObject refuses.
func TestPeekObject(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]error{
		`{"iss":"a","iss":"b"}`: nil,
		`{"x":{"a":1,"a":2}}`:   nil,
		"{\"iss\":\"\xff\"}":    errSyntax,
		`{"a":"\ud800"}`:        errSyntax,
		`{"x":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`: errDepth,
		`{}x`: errTrailing,
		`[]`:  errNotObject,
	} {
		var last string
		err := PeekObject(in, func(name string, v *Value) error {
			if name == "iss" {
				last = v.Str()
			}
			return nil
		})
		if !errors.Is(err, want) {
			t.Errorf("PeekObject(%q) = %v, want %v", in, err, want)
		}
		if in == `{"iss":"a","iss":"b"}` && last != "b" {
			t.Errorf("both members reach the callback: last %q", last)
		}
	}
}

func TestValueAccessors(t *testing.T) {
	t.Parallel()
	in := `{"s":"plain","e":"a\u00e9\n\"","n":12.5,"aud":["x","\u0079"],"mixed":["x",1],"empty":[],"o":{"k":"v"},"\u0074":true}`
	got := map[string]Value{}
	var names []string
	if err := ScanObject(in, func(name string, v *Value) error {
		got[name] = *v
		names = append(names, name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "[s e n aud mixed empty o t]"; fmt.Sprint(names) != want {
		t.Fatalf("names %v, want %s", names, want)
	}
	str := func(name string) string { v := got[name]; return v.Str() }
	if str("s") != "plain" || str("e") != "aé\n\"" || str("n") != "" {
		t.Errorf("Str: %q %q %q", str("s"), str("e"), str("n"))
	}
	for name, want := range map[string]Kind{"s": String, "n": Number, "aud": Array, "o": Object, "t": Bool} {
		if v := got[name]; v.Kind() != want {
			t.Errorf("%s: kind %d, want %d", name, v.Kind(), want)
		}
	}
	if v := got["n"]; v.Raw() != "12.5" {
		t.Errorf("raw %q", v.Raw())
	}
	if v := got["o"]; v.Raw() != `{"k":"v"}` {
		t.Errorf("raw %q", v.Raw())
	}
	for name, want := range map[string]struct {
		elems string
		ok    bool
	}{
		"aud":   {"[x y]", true},
		"mixed": {"[]", false},
		"empty": {"[]", true},
		"s":     {"[]", false},
	} {
		v := got[name]
		if elems, ok := v.Strings(); ok != want.ok || fmt.Sprint(elems) != want.elems || !ok && elems != nil {
			t.Errorf("%s: Strings() = %q, %v", name, elems, ok)
		}
	}
}

func TestNumericDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1700000000", 1700000000, true},
		{"1700000000.9", 1700000000, true},
		{"1.7e9", 1700000000, true},
		{"-1", -1, true},
		{"253402300799", 253402300799, true},
		{"253402300800", 0, false},
		{"-62135596801", 0, false},
		{"1e300", 0, false},
		{`"1700000000"`, 0, false},
	}
	for _, tt := range tests {
		var got int64
		var ok bool
		if err := ScanObject(`{"t":`+tt.raw+`}`, func(_ string, v *Value) error {
			got, ok = v.NumericDate()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("NumericDate(%s) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}

func TestScanObjectStopsAtCallbackError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	calls := 0
	err := ScanObject(`{"a":1,"b":2,"c":3}`, func(name string, _ *Value) error {
		calls++
		if name == "b" {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// scanWork scans data and returns the reader's count of name comparisons
// and hash insertions.
func scanWork(t *testing.T, data string) (int, error) {
	t.Helper()
	r := reader{b: data}
	err := r.scan(func(string, *Value) error { return nil })
	r.set.release()
	return r.work, err
}

// TestDuplicatesAtScale pins the duplicate check at every size and depth:
// thousands of distinct names pass, one repeated name anywhere fails, and
// the work stays proportional to the number of members (a reader comparing
// each name with all earlier ones does n²/2: 12.5 million comparisons for
// the 5000 members here).
func TestDuplicatesAtScale(t *testing.T) {
	t.Parallel()
	escaped := func(i int) string { return "\\u006d" + strconv.Itoa(i) } // \u006d is m
	wrap := map[string]func(string) string{
		"top level": func(m string) string { return "{" + m + "}" },
		"nested":    func(m string) string { return `{"iss":"x","x":{` + m + `}}` },
		"in arrays": func(m string) string { return `{"x":[[1,{"y":[{` + m + `}]}]]}` },
	}
	for where, w := range wrap {
		for _, n := range []int{1, 2, 15, 16, 17, 18, 100, 1000, 5000} {
			t.Run(fmt.Sprintf("%s/%d", where, n), func(t *testing.T) {
				t.Parallel()
				ms := members(n, plainName)
				work, err := scanWork(t, w(ms))
				if err != nil {
					t.Fatalf("%d distinct members: %v", n, err)
				}
				if limit := 2*n + linearMembers*linearMembers; work > limit {
					t.Fatalf("%d members took %d units of work, more than %d", n, work, limit)
				}
				// The same names, some escaped: still distinct.
				mixed := strings.ReplaceAll(members(n, func(i int) string {
					if i%3 == 0 {
						return "ESC" + strconv.Itoa(i)
					}
					return plainName(i)
				}), `"ESC`, `"\u006d`)
				if _, err := scanWork(t, w(mixed)); err != nil {
					t.Fatalf("%d distinct members, some escaped: %v", n, err)
				}
				for _, dup := range []struct {
					name  string
					extra string
				}{
					{"first repeated last", strconv.Quote(plainName(0)) + ":1"},
					{"last repeated last", strconv.Quote(plainName(n-1)) + ":1"},
					{"middle repeated, escaped", `"` + escaped(n/2) + `":1`},
				} {
					if _, err := scanWork(t, w(ms+","+dup.extra)); !errors.Is(err, errDuplicate) {
						t.Errorf("%s after %d members: %v, want a duplicate", dup.name, n, err)
					}
				}
			})
		}
	}
}

// TestDuplicatesAcrossManyObjects: many objects, each under the comparing
// limit or over it, each with the same names; none is a duplicate of
// another object's names, and the work stays linear.
func TestDuplicatesAcrossManyObjects(t *testing.T) {
	t.Parallel()
	for _, per := range []int{1, 16, 17, 40} {
		obj := "{" + members(per, plainName) + "}"
		objs := strings.Repeat(obj+",", 300) + obj
		work, err := scanWork(t, `{"x":[`+objs+`]}`)
		if err != nil {
			t.Fatalf("%d members per object: %v", per, err)
		}
		if total := 301 * per; work > 2*total+linearMembers*linearMembers*301 {
			t.Fatalf("%d members in 301 objects: %d units of work", total, work)
		}
		bad := `{"x":[` + objs + `,{` + members(per, plainName) + `,"m0":1}]}`
		if _, err := scanWork(t, bad); !errors.Is(err, errDuplicate) {
			t.Fatalf("a duplicate in the last of 302 objects: %v", err)
		}
	}
}

// TestScanObjectAgreesWithEncodingJSON cross-checks decoded strings and
// arrays against encoding/json on the shapes the hostile benchmarks use.
func TestScanObjectAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for name, doc := range hostileDocs(4 << 10) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var std map[string]any
			if err := json.Unmarshal([]byte(doc), &std); err != nil {
				t.Fatal(err)
			}
			n := 0
			err := ScanObject(doc, func(name string, v *Value) error {
				n++
				if v.Kind() == String && v.Str() != std[name] {
					return fmt.Errorf("%s: %q, encoding/json says %q", name, v.Str(), std[name])
				}
				return nil
			})
			if err != nil || n != len(std) {
				t.Fatalf("%v after %d of %d members", err, n, len(std))
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":          `"plain"`,
		"q\"b\\":         `"q\"b\\"`,
		"\n\r\t\x01\x1f": `"\n\r\t\u0001\u001f"`,
		"\u2028\u2029":   `"\u2028\u2029"`,
		"é<>&":           `"é<>&"`,
		"\xff":           `"\ufffd"`,
	} {
		if got := string(AppendJSONString([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendJSONString(%q) = %s, want x%s", in, got, want)
		}
	}
}
