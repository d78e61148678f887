package scaffold

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

func BenchmarkBuildWranglerConfig(b *testing.B) {
	opts := WranglerOptions{Name: "my-worker", NimbusPublicDirectory: true, Agent: &AgentOptions{Model: DefaultAgentModel, GatewayID: DefaultAgentGatewayID}}
	for b.Loop() {
		cfg, err := BuildWranglerConfig(opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cfg.JSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for b.Loop() {
		if _, err := Render(Options{ProjectName: "my-worker"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInitNewDir is the library part of `nimbus init` into a new
// directory: render, plan, and the atomic writes (with fsync) of six files.
func BenchmarkInitNewDir(b *testing.B) {
	root := b.TempDir()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		p, err := Render(Options{ProjectName: "my-worker"})
		if err != nil {
			b.Fatal(err)
		}
		plan, err := NewPlan(ctx, filepath.Join(root, strconv.Itoa(i), "my-worker"), p, PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(ctx, plan, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
