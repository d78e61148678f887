package localsandbox

import (
	"reflect"
	"testing"
)

func TestParseProcNetTCP(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:49E1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42494 2 000000001128da7a 100 0 0 10 0
   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1672 1 00000000641b7027 100 0 0 10 0
   2: 0100007F:841C 0100007F:8E4F 06 00000000:00000000 03:00000CFC 00000000     0        0 0 3 00000000dbcb4b23
   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 20 4 30 10 -1
   4: garbage
`)
	table6 := []byte(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 9001 1 0000000000000000 100 0 0 10 0
`)
	got := map[uint64]int{}
	parseProcNetTCP(table, got)
	parseProcNetTCP(table6, got)
	// Listeners only (st 0A): an established or time-wait socket is not one.
	want := map[uint64]int{42494: 0x49E1, 1672: 3000, 9001: 8080}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestParseProcStat(t *testing.T) {
	for line, want := range map[string][3]int{
		"5100 (cat) R 5095 5095 10857 0 -1":           {5095, 5095, 1},
		"42 (my (weird) prog) S 1 40 40 0 -1 4194560": {1, 40, 1},
		"7 (x) Z":  {0, 0, 0},
		"no paren": {0, 0, 0},
	} {
		ppid, pgrp, ok := parseProcStat([]byte(line))
		if ppid != want[0] || pgrp != want[1] || ok != (want[2] == 1) {
			t.Errorf("%q: %d %d %v", line, ppid, pgrp, ok)
		}
	}
}
