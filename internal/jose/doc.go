// Package jose is sessionkit's strict codec for JOSE. It has no dependency
// outside the standard library.
//
// ScanObject is the JSON reader behind headers, claims and keys: it refuses
// duplicate member names at any depth, invalid UTF-8, lone surrogates,
// nesting deeper than 32 levels and trailing bytes, and its work is linear
// in the size of its input whatever the input holds. It compares a name
// with at most 15 earlier ones of its object and puts the names of larger
// objects in a set of keyed 64-bit hashes; nesting is read by one loop with
// a stack; strings are validated in place and decoded only when asked for.
// AppendJSONString is the writer.
package jose
