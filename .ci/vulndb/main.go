// Command vulndb builds an offline copy of the Go vulnerability database,
// for "govulncheck -db file:///DIR" where the database's own host cannot be
// reached but Go modules can be downloaded.
//
// The database's entries are published as the module golang.org/x/vulndb
// (data/osv/<ID>.json, one OSV entry each). This program downloads the
// version this module's go.mod requires, checked against go.sum, with
// "go mod download" (so the module cache and GOPROXY decide where from, and
// nothing else is contacted), and writes the layout govulncheck's file
// source reads (golang.org/x/vuln internal/client, v1.9.0):
//
//	index/db.json       {"modified": the newest entry time}
//	index/modules.json  [{"path": module, "vulns": [{"id", "modified"}]}], sorted
//	index/vulns.json    [{"id", "modified", "aliases"}], sorted
//	ID/<ID>.json        each entry, byte for byte
//
// Two deliberate differences from the database served online, neither of
// which changes a finding:
//
//   - The module's entries carry a zero "modified" time (the online
//     database takes it from the git history, which a module has not); the
//     indexes use the module version's commit time for those.
//   - modules.json has no "fixed" versions: that field only lets a client
//     skip entries it need not read, and without it govulncheck reads every
//     entry of a module and decides from the entry's own ranges.
//
// Usage:
//
//	go run . -out DIR [-min N]
//
// DIR must not exist or be empty. Fewer than N entries (default 1000) is an
// error, so that a broken download never yields a database that finds
// nothing.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// vulndbModule is the module whose data/osv holds the entries.
const vulndbModule = "golang.org/x/vulndb"

func main() {
	out := flag.String("out", "", "the directory to write the database to (must not exist or be empty)")
	minEntries := flag.Int("min", 1000, "the least number of entries the database must have")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	dir, modTime, err := download(vulndbModule)
	if err != nil {
		log.Fatalf("vulndb: %v", err)
	}
	n, err := build(filepath.Join(dir, "data", "osv"), *out, modTime, *minEntries)
	if err != nil {
		log.Fatalf("vulndb: %v", err)
	}
	fmt.Printf("vulndb: %d entries of %s (%s) written to %s\n", n, vulndbModule, modTime.Format(time.DateOnly), *out)
}

// download fetches module at the version go.mod requires and returns its
// directory in the module cache and its version's commit time.
func download(module string) (string, time.Time, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("go mod download %s: %w", module, err)
	}
	var dl struct{ Dir, Info, Error string }
	if err := json.Unmarshal(raw, &dl); err != nil {
		return "", time.Time{}, fmt.Errorf("go mod download %s: %w", module, err)
	}
	if dl.Error != "" || dl.Dir == "" || dl.Info == "" {
		return "", time.Time{}, fmt.Errorf("go mod download %s: %s", module, dl.Error)
	}
	raw, err = os.ReadFile(dl.Info)
	if err != nil {
		return "", time.Time{}, err
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(raw, &info); err != nil || info.Time.IsZero() {
		return "", time.Time{}, fmt.Errorf("%s: no version time", dl.Info)
	}
	return dl.Dir, info.Time, nil
}

// entry holds the members of an OSV entry the indexes need.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"` // the module path, or "stdlib" or "toolchain"
		} `json:"package"`
	} `json:"affected"`
}

// moduleVuln, moduleMeta, vulnMeta and dbMeta are the index records.
type (
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
)

// validID is the form of a Go vulnerability id, which names a file.
var validID = regexp.MustCompile(`^GO-[0-9]{4}-[0-9]{4,}$`)

// build reads the entries of src and writes the database to out. Entries
// with a zero modified time get fallback in the indexes.
func build(src, out string, fallback time.Time, minEntries int) (int, error) {
	if err := emptyDir(out); err != nil {
		return 0, err
	}
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) < minEntries {
		return 0, fmt.Errorf("%s has %d entries, fewer than %d", src, len(files), minEntries)
	}
	if err := os.MkdirAll(filepath.Join(out, "ID"), 0o755); err != nil {
		return 0, err
	}
	modules := make(map[string]*moduleMeta)
	var vulns []vulnMeta
	var db dbMeta
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		if !validID.MatchString(e.ID) || filepath.Base(f) != e.ID+".json" {
			return 0, fmt.Errorf("%s: the entry's id is %q", f, e.ID)
		}
		if len(e.Affected) == 0 {
			return 0, fmt.Errorf("%s: no affected modules", f)
		}
		modified := e.Modified
		if modified.IsZero() {
			modified = fallback
		}
		if modified.After(db.Modified) {
			db.Modified = modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" {
				return 0, fmt.Errorf("%s: an affected package without a name", f)
			}
			m := modules[path]
			if m == nil {
				m = &moduleMeta{Path: path}
				modules[path] = m
			}
			if !slices.ContainsFunc(m.Vulns, func(v moduleVuln) bool { return v.ID == e.ID }) {
				m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: modified})
			}
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return 0, err
		}
	}
	slices.SortFunc(vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })
	byPath := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		slices.SortFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		byPath = append(byPath, m)
	}
	slices.SortFunc(byPath, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	for name, v := range map[string]any{"db.json": db, "modules.json": byPath, "vulns.json": vulns} {
		if err := writeJSON(filepath.Join(out, "index", name), v); err != nil {
			return 0, err
		}
	}
	return len(files), nil
}

// emptyDir checks that dir does not exist or is an empty directory.
func emptyDir(dir string) error {
	list, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(list) > 0:
		return fmt.Errorf("%s is not empty", dir)
	}
	return nil
}

// writeJSON writes v as JSON to path, creating its directory.
func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
