package observe

import "testing"

func TestOrNopAndFunc(t *testing.T) {
	OrNop[int](nil).Observe(1) // a missing observer must not panic

	var got []int
	o := OrNop[int](Func[int](func(e int) { got = append(got, e) }))
	o.Observe(1)
	o.Observe(2)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("events %v, want [1 2]: OrNop must keep the caller's observer", got)
	}
}
