package redisstore

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

// TestParseClusterNodes: the masters a View subscribes to, from CLUSTER
// NODES as Redis 7 writes it (a master serving slots, suspected or failed
// too; not one serving none, nor a replica), and the slots the answering
// node moves away (its own line only).
func TestParseClusterNodes(t *testing.T) {
	text := "" +
		"a1 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461-<-b2] [42->-d4]\n" +
		"b2 10.0.0.2:7000@17000,node-b master - 0 1700000000000 2 connected 5461-10921 10922\n" +
		"c3 ::1:7002@17002 master,fail? - 1700000000000 0 3 connected 10923-16383 [7->-a1]\n" +
		"d4 10.0.0.4:7000@17000 master - 0 0 4 connected\n" +
		"e5 10.0.0.5:7000@17000 master,fail - 0 0 5 disconnected 100\n" +
		"f6 10.0.0.6:7000@17000 slave a1 0 0 1 connected\n" +
		"h8 :0@0 master,noaddr - 0 0 6 disconnected\n" +
		"\n" + "garbage\n"
	cv := parseClusterNodes(text)
	want := map[string]bool{"a1": true, "b2": true, "c3": true, "e5": true}
	if !maps.Equal(cv.masters, want) {
		t.Fatalf("masters %v, want %v", cv.masters, want)
	}
	if !slices.Equal(cv.movingTo, []string{"d4"}) {
		t.Fatalf("moving to %v, want [d4]", cv.movingTo)
	}
}

// TestReplication: INFO replication's role and master_replid.
func TestReplication(t *testing.T) {
	info := "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:0123456789abcdef0123456789abcdef01234567\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
	role, id := replication(info)
	if role != "master" || id != "0123456789abcdef0123456789abcdef01234567" {
		t.Fatalf("replication: %q %q", role, id)
	}
	if role, id := replication("# Replication\r\nrole:slave\r\n"); role != "slave" || id != "" {
		t.Fatalf("a replica without replid: %q %q", role, id)
	}
}

// TestJudge: what a probe's result lets a link prove, and what ends it.
func TestJudge(t *testing.T) {
	one := &round{}
	cluster := &round{masters: map[string]bool{"a": true, "b": true}}
	const x, y = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	masters := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	for _, c := range []struct {
		name      string
		r         *round
		res       probeResult
		replid    string
		confirmed bool
		checked   bool
		err       error // nil: none; errAny: one that does not end the link
	}{
		{"one server, the subscription there", one, probeResult{role: "master", replid: x, subscribers: 1}, "", true, true, nil},
		{"one server, the same history", one, probeResult{role: "master", replid: x, subscribers: 1}, x, true, true, nil},
		{"one server, another history", one, probeResult{role: "master", replid: y, subscribers: 1}, x, true, false, errHistory},
		{"one server, a replica", one, probeResult{role: "slave", replid: x, subscribers: 1}, "", true, false, errReplica},
		{"one server, the subscription elsewhere", one, probeResult{role: "master", replid: y, subscribers: 0}, x, true, false, errMoved},
		{"one server, before the subscription took", one, probeResult{role: "master", replid: x, subscribers: 0}, "", false, false, nil},
		{"one server, another subscriber", one, probeResult{role: "master", replid: x, subscribers: 2}, "", true, false, errAny},
		{"one server, no replid", one, probeResult{role: "master", subscribers: 1}, "", true, false, errAny},
		{"cluster, the same masters", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a", "b")}}, x, true, true, nil},
		{"cluster, a master more", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a", "b", "c")}}, x, true, false, errTopology},
		{"cluster, a master less", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a")}}, x, true, false, errTopology},
		{"cluster, another master", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a", "c")}}, x, true, false, errTopology},
		{"cluster, a slot moving within", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a", "b"), movingTo: []string{"b"}}}, x, true, true, nil},
		{"cluster, a slot moving out", cluster, probeResult{role: "master", replid: x, cluster: clusterView{masters: masters("a", "b"), movingTo: []string{"c"}}}, x, true, false, errAny},
		{"cluster, the node demoted", cluster, probeResult{role: "slave", replid: x, cluster: clusterView{masters: masters("a", "b")}}, x, true, false, errTopology},
		{"cluster, another history", cluster, probeResult{role: "master", replid: y, cluster: clusterView{masters: masters("a", "b")}}, x, true, false, errHistory},
	} {
		checked, err := judge(c.r, c.res, c.replid, c.confirmed)
		switch {
		case checked != c.checked:
			t.Errorf("%s: checked %v, want %v (%v)", c.name, checked, c.checked, err)
		case c.err == nil && err != nil, c.err != nil && err == nil:
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		case c.err != nil && c.err != errAny && err != c.err:
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		case c.err == errAny && endsLink(err):
			t.Errorf("%s: error %v ends the link, want one that does not", c.name, err)
		}
	}
}

// errAny stands, in TestJudge, for an error that does not end the link.
var errAny = errors.New("any")
