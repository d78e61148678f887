package loadtest

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Table collects the results of several rounds, each of which measured
// every operation and its floors, and prints them with the spread between
// rounds. Ratios are taken within a round (the operation against the floor
// measured minutes apart at most), then summarised: on a shared machine the
// ratio is the figure that means something.
type Table struct {
	order  []string
	floors map[string][]string
	cells  map[cell][]Result
	concs  []int
}

type cell struct {
	op string
	c  int
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{floors: map[string][]string{}, cells: map[cell][]Result{}}
}

// Rows fixes the order in which operations are printed; others follow in
// the order they were first added.
func (t *Table) Rows(ops ...string) {
	for _, op := range ops {
		if !slices.Contains(t.order, op) {
			t.order = append(t.order, op)
		}
	}
}

// Compare says that op's throughput is to be shown as a ratio to each of
// floors (op names of the same table).
func (t *Table) Compare(op string, floors ...string) { t.floors[op] = floors }

// Add records a round's result of op at concurrency r.Concurrency; rounds
// are numbered by the order of Add calls for the same op and concurrency.
func (t *Table) Add(op string, r Result) {
	if !slices.Contains(t.order, op) {
		t.order = append(t.order, op)
	}
	if !slices.Contains(t.concs, r.Concurrency) {
		t.concs = append(t.concs, r.Concurrency)
		slices.Sort(t.concs)
	}
	k := cell{op, r.Concurrency}
	t.cells[k] = append(t.cells[k], r)
}

// Results returns the rounds of op at concurrency c.
func (t *Table) Results(op string, c int) []Result { return t.cells[cell{op, c}] }

// Ratio returns the median over rounds of op's throughput divided by
// floor's, with the smallest and largest; ok is false without a round
// that measured both.
func (t *Table) Ratio(op, floor string, c int) (med, lo, hi float64, ok bool) {
	a, b := t.cells[cell{op, c}], t.cells[cell{floor, c}]
	var rs []float64
	for i := range min(len(a), len(b)) {
		if f := b[i].OpsPerSec(); f > 0 {
			rs = append(rs, a[i].OpsPerSec()/f)
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	med, lo, hi = spread(rs)
	return med, lo, hi, true
}

// P99Ratio is Ratio for the 99th percentile latency (lower is better).
func (t *Table) P99Ratio(op, floor string, c int) (med, lo, hi float64, ok bool) {
	a, b := t.cells[cell{op, c}], t.cells[cell{floor, c}]
	var rs []float64
	for i := range min(len(a), len(b)) {
		if f := b[i].Quantile(0.99); f > 0 {
			rs = append(rs, float64(a[i].Quantile(0.99))/float64(f))
		}
	}
	if len(rs) == 0 {
		return 0, 0, 0, false
	}
	med, lo, hi = spread(rs)
	return med, lo, hi, true
}

// spread returns the median, smallest and largest of xs.
func spread(xs []float64) (med, lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// Write prints the table: for each operation and concurrency the median
// throughput over rounds with its range, the median p50 and p99 latency,
// the median CPU time of the serving process per operation (when
// measured), errors, and the ratios to the operation's floors.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tconc\tops/s\t(min-max)\tp50 ms\tp99 ms\tcpu µs/op\terrors\tratio to floor (min-max)")
	for _, op := range t.order {
		for _, c := range t.concs {
			rs := t.cells[cell{op, c}]
			if len(rs) == 0 {
				continue
			}
			var ops, p50, p99, cpu []float64
			errs := 0
			for _, r := range rs {
				ops = append(ops, r.OpsPerSec())
				p50 = append(p50, float64(r.Quantile(0.5)))
				p99 = append(p99, float64(r.Quantile(0.99)))
				if c := r.CPUPerOp(); c > 0 {
					cpu = append(cpu, float64(c)/float64(time.Microsecond))
				}
				errs += r.Errors
			}
			om, olo, ohi := spread(ops)
			m50, _, _ := spread(p50)
			m99, _, _ := spread(p99)
			cpuCol := "-"
			if len(cpu) > 0 {
				mc, _, _ := spread(cpu)
				cpuCol = fmt.Sprintf("%.1f", mc)
			}
			var ratios []string
			for _, f := range t.floors[op] {
				if m, lo, hi, ok := t.Ratio(op, f, c); ok {
					ratios = append(ratios, fmt.Sprintf("%.2fx %s (%.2f-%.2f)", m, f, lo, hi))
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t(%.0f-%.0f)\t%s\t%s\t%s\t%d\t%s\n", op, c, om, olo, ohi,
				ms(time.Duration(m50)), ms(time.Duration(m99)), cpuCol, errs, strings.Join(ratios, ", "))
		}
	}
	return tw.Flush()
}
