// The offline vulnerability database of .ci/run. golang.org/x/vulndb is
// required only to pin its version and, through go.sum, its checksum: the
// converter downloads it with "go mod download" and imports nothing from
// it, so "go mod tidy" would drop the line. To move to a newer database,
// run "go get golang.org/x/vulndb@VERSION" here (it updates both files).
module vulndb

go 1.25.0

require golang.org/x/vulndb v0.0.0-20261105234957-e22db6528018
