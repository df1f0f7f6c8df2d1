// Command vulnerable is .ci/run's check that the offline vulnerability
// database finds something: it calls language.Parse of golang.org/x/text
// v0.3.6, which GO-2021-0113 (an out-of-bounds read, fixed in v0.3.7)
// names, so govulncheck must exit 3 and report that id. .ci/run copies it
// to a temporary directory with go.mod.txt and go.sum.txt as go.mod and
// go.sum (named so here so that no dependency scanner takes this old
// version for one of the project's); never build it into anything.
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	fmt.Println(language.Parse("en-US"))
}
