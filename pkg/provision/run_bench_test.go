package provision_test

import (
	"context"
	"testing"
)

// BenchmarkNoopRerun measures a rerun on a provisioned account against the
// in-process fake: six GETs, no mutation, no file written.
func BenchmarkNoopRerun(b *testing.B) {
	f := newFixture(b)
	p := f.plan()
	if _, err := f.provisioner(userTok).Run(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	pr := f.provisioner(userTok)
	b.ResetTimer()
	for b.Loop() {
		if _, err := pr.Run(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	f.cf.ResetRequests()
	if _, err := pr.Run(context.Background(), p); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(f.cf.Requests())), "requests/run")
	b.ReportMetric(float64(f.cf.Mutations()), "mutations/run")
}
