package jose

import (
	"strconv"
	"strings"
	"testing"
)

// hostileDocs are JSON objects of about size bytes shaped to be the worst
// for a reader: one per way of spending work.
func hostileDocs(size int) map[string]string {
	fill := func(prefix string, unit func(i int) string, sep, suffix string) string {
		var b strings.Builder
		b.WriteString("{" + prefix)
		for i := 0; ; i++ {
			u := unit(i)
			if i > 0 {
				u = sep + u
			}
			if b.Len()+len(u)+len(suffix)+1 > size {
				break
			}
			b.WriteString(u)
		}
		b.WriteString(suffix + "}")
		return b.String()
	}
	name := func(i int) string { return `"m` + strconv.Itoa(i) + `":0` }
	return map[string]string{
		"members":         fill("", name, ",", ""),
		"nested-members":  fill(`"x":{`, name, ",", "}"),
		"small-objects":   fill(`"x":[`, func(int) string { return `{"a":0}` }, ",", "]"),
		"deep":            fill(`"x":[`, func(int) string { return strings.Repeat("[", 31) + strings.Repeat("]", 31) }, ",", "]"),
		"long-array":      fill(`"x":[`, func(int) string { return "0" }, ",", "]"),
		"escapes":         fill(`"x":"`, func(int) string { return `\u00e9` }, "", `"`),
		"escaped-strings": fill(`"x":[`, func(int) string { return `"\n"` }, ",", "]"),
		"escaped-names":   fill(`"x":{`, func(i int) string { return `"\u0061` + strconv.Itoa(i) + `":0` }, ",", "}"),
		"long-names": fill(`"x":{`, func(i int) string {
			return `"` + strings.Repeat("n", size/20) + strconv.Itoa(10+i) + `":0`
		}, ",", "}"),
		"strings": fill(`"x":[`, func(int) string { return `"abcdefghijklmnopqrstuvwxyz"` }, ",", "]"),
	}
}

// BenchmarkScanObjectHostile reads 24 KiB hostile documents (the header or
// payload of a 32 KiB token); SetBytes makes the result MB/s.
func BenchmarkScanObjectHostile(b *testing.B) {
	for name, doc := range hostileDocs(24 << 10) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ScanObject(doc, func(string, *Value) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
