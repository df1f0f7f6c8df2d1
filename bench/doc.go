// Package bench holds side-by-side benchmarks of sessionkit access-token
// verification against other Go JWT stacks; see README.md.
package bench
