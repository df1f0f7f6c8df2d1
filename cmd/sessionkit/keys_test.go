package main

import "testing"

func TestKeysNotAvailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want check
	}{
		{"list", []string{"keys", "list", "-store", "bolt:x.db", "-kek-file", "kek", "-issuer", issuerA}, check{code: 1, emptyStdout: true, stderr: []string{"sessionkit keys: not available in this build"}}},
		{"help says so", []string{"keys", "-h"}, check{code: 0, stdout: []string{"NOT AVAILABLE IN THIS BUILD", "-kek-file FILE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runCmd(t, "", tt.args...))
		})
	}
}
