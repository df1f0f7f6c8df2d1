package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// What the commands print of data they did not write (token claims, user
// agents) may hold anything: display keeps it to one line of visible
// characters, so that it cannot move the cursor, recolour the terminal or
// reorder the text around it (bidirectional controls).

// display returns s as it is when every character is visible (letters,
// marks, numbers, punctuation, symbols, spaces), and else quoted with Go
// escapes for the others.
func display(s string) string {
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

// displayJSON returns a JSON value, compacted, as display shows it.
func displayJSON(raw string) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err == nil {
		raw = buf.String()
	}
	return display(raw)
}

// truncate cuts s to at most n runes (n > 3), marking the cut with
// "...".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// dateFormat is how the commands show times: UTC, to the second.
const dateFormat = "2006-01-02 15:04:05 UTC"

// date shows t in dateFormat.
func date(t time.Time) string { return t.UTC().Format(dateFormat) }

// ago says how far t is from now: "in 4m" or "3h ago" ("now" within a
// second).
func ago(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d >= time.Second:
		return "in " + span(d)
	case d <= -time.Second:
		return span(-d) + " ago"
	}
	return "now"
}

// span writes a positive duration in at most two units, rounded down:
// "42s", "4m", "4m12s", "3h5m", "2d4h".
func span(d time.Duration) string {
	const day = 24 * time.Hour
	units := []struct {
		size time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size && i < len(units)-1 {
			continue
		}
		s := strconv.FormatInt(int64(d/u.size), 10) + u.name
		if i+1 < len(units) {
			next := units[i+1]
			if n := int64(d % u.size / next.size); n > 0 {
				s += strconv.FormatInt(n, 10) + next.name
			}
		}
		return s
	}
	return "0s"
}

// list is a sequence of "name: text" lines with the names aligned.
type list struct {
	indent string
	rows   [][2]string
}

// add appends a row; the text is shown as given (callers pass display'd
// data).
func (l *list) add(name, format string, args ...any) {
	l.rows = append(l.rows, [2]string{name, fmt.Sprintf(format, args...)})
}

// String renders the rows.
func (l *list) String() string {
	width := 0
	for _, r := range l.rows {
		width = max(width, len(r[0]))
	}
	var b strings.Builder
	for _, r := range l.rows {
		fmt.Fprintf(&b, "%s%-*s  %s\n", l.indent, width, r[0], r[1])
	}
	return b.String()
}
