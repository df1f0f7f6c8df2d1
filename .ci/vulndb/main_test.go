package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeEntries writes OSV entries, file name to JSON, into a new directory.
func writeEntries(t *testing.T, entries map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range entries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	entryA = `{"id":"GO-2021-0113","modified":"0001-01-01T00:00:00Z","aliases":["CVE-2021-38561"],` +
		`"affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"}}]}`
	entryB = `{"id":"GO-2020-0001","modified":"2024-05-01T10:00:00Z",` +
		`"affected":[{"package":{"name":"stdlib"}},{"package":{"name":"golang.org/x/text"}}]}`
)

func TestBuild(t *testing.T) {
	t.Parallel()
	fallback := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	src := writeEntries(t, map[string]string{"GO-2021-0113.json": entryA, "GO-2020-0001.json": entryB, "README.md": "not an entry"})
	out := filepath.Join(t.TempDir(), "db")
	n, err := build(src, out, fallback, 2)
	if err != nil || n != 2 {
		t.Fatalf("build: %d, %v", n, err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, tc := range []struct{ file, want string }{
		{"index/db.json", `{"modified":"2026-11-05T23:49:57Z"}`},
		{"index/modules.json", `[{"path":"golang.org/x/text","vulns":[{"id":"GO-2020-0001","modified":"2024-05-01T10:00:00Z"},` +
			`{"id":"GO-2021-0113","modified":"2026-11-05T23:49:57Z"}]},` +
			`{"path":"stdlib","vulns":[{"id":"GO-2020-0001","modified":"2024-05-01T10:00:00Z"}]}]`},
		{"index/vulns.json", `[{"id":"GO-2020-0001","modified":"2024-05-01T10:00:00Z"},` +
			`{"id":"GO-2021-0113","modified":"2026-11-05T23:49:57Z","aliases":["CVE-2021-38561"]}]`},
		{"ID/GO-2021-0113.json", entryA}, // byte for byte
	} {
		if got := read(tc.file); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.file, got, tc.want)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		entries  map[string]string
		min      int
		nonEmpty bool
		want     string
	}{
		{"too few entries", map[string]string{"GO-2021-0113.json": entryA}, 2, false, "fewer than 2"},
		{"file named after another id", map[string]string{"GO-2021-0114.json": entryA}, 1, false, "id is"},
		{"id that is no file name", map[string]string{"x.json": strings.Replace(entryA, "GO-2021-0113", "../x", 1)}, 1, false, "id is"},
		{"not JSON", map[string]string{"GO-2021-0113.json": "{"}, 1, false, "GO-2021-0113.json"},
		{"no affected module", map[string]string{"GO-2021-0113.json": `{"id":"GO-2021-0113"}`}, 1, false, "no affected"},
		{"output not empty", map[string]string{"GO-2021-0113.json": entryA}, 1, true, "not empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			if tc.nonEmpty {
				if err := os.WriteFile(filepath.Join(out, "x"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := build(writeEntries(t, tc.entries), out, time.Now(), tc.min)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
