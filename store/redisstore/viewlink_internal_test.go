package redisstore

import (
	"maps"
	"testing"
)

// TestParseLiveMasters: the masters a View subscribes to, from CLUSTER
// NODES as Redis 7 writes it: a suspected master (fail?) stays, a failed
// one, one in a handshake or without an address goes, a replica is not
// one; IPv6 addresses come bare, hostnames after a comma.
func TestParseLiveMasters(t *testing.T) {
	text := "" +
		"a1 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n" +
		"b2 10.0.0.2:7000@17000,node-b master - 0 1700000000000 2 connected 5461-10922\n" +
		"c3 ::1:7002@17002 master,fail? - 1700000000000 0 3 connected 10923-16383\n" +
		"d4 10.0.0.4:7000@17000 master - 0 0 4 connected\n" +
		"e5 10.0.0.5:7000@17000 master,fail - 0 0 5 disconnected\n" +
		"f6 10.0.0.6:7000@17000 slave a1 0 0 1 connected\n" +
		"g7 10.0.0.7:7000@17000 handshake,master - 0 0 0 connected\n" +
		"h8 :0@0 master,noaddr - 0 0 6 disconnected\n" +
		"\n" + "garbage\n"
	want := map[string]string{"a1": "10.0.0.1:7000", "b2": "10.0.0.2:7000", "c3": "[::1]:7002", "d4": "10.0.0.4:7000"}
	if got := parseLiveMasters(text); !maps.Equal(got, want) {
		t.Fatalf("parseLiveMasters:\n got %v\nwant %v", got, want)
	}
}
