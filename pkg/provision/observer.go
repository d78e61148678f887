package provision

// StepID names a provisioning step.
type StepID string

// The steps Run reports, in order.
const (
	StepToken      StepID = "token"
	StepAccount    StepID = "account"
	StepBucket     StepID = "bucket"
	StepRuntimes   StepID = "runtimes"
	StepWrangler   StepID = "wrangler-config"
	StepWorkersDev StepID = "workers-dev"
	StepEndpoint   StepID = "endpoint"
	StepSecret     StepID = "secret"
)

// StepState is where a step is.
type StepState string

// Step states. Every step that starts ends in exactly one of the others.
const (
	StateRunning StepState = "running"
	StateDone    StepState = "done"
	StateSkipped StepState = "skipped"
	StateWarning StepState = "warning"
	StateFailed  StepState = "failed"
)

// Event is one progress report. Message is human text without secrets.
type Event struct {
	Step    StepID
	Subject string // e.g. the bucket name
	State   StepState
	Message string
}

// Observer receives progress while Run works, so the CLI can draw a
// checklist; the library itself never prints.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

type nopObserver struct{}

// Observe discards the event.
func (nopObserver) Observe(Event) {}
