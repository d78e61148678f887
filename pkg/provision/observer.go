package provision

import "github.com/nimbus-sh/nimbus/internal/observe"

// StepID names a provisioning step.
type StepID string

// The steps Run reports, in order.
const (
	// StepToken verifies the API token.
	StepToken StepID = "token"
	// StepAccount resolves the account: the one given, or the token's
	// only one.
	StepAccount StepID = "account"
	// StepBucket checks and creates one bucket (Subject names it).
	StepBucket StepID = "bucket"
	// StepRuntimes publishes the runtimes into the runtime bucket.
	StepRuntimes StepID = "runtimes"
	// StepWrangler writes account_id (and the catalog pin) into the
	// wrangler config.
	StepWrangler StepID = "wrangler-config"
	// StepWorkersDev reads the account's workers.dev subdomain to derive
	// the Worker's URL.
	StepWorkersDev StepID = "workers-dev"
	// StepEndpoint records the Worker's URL in nimbus.yaml.
	StepEndpoint StepID = "endpoint"
	// StepSecret puts the secret on the Worker (Subject names it).
	StepSecret StepID = "secret"
)

// StepState is where a step is.
type StepState string

// Step states. Every step that starts ends in exactly one of the others.
const (
	// StateRunning: the step has started.
	StateRunning StepState = "running"
	// StateDone: the step succeeded.
	StateDone StepState = "done"
	// StateSkipped: the step did nothing: it was not requested, had
	// nothing to do, or would act in a dry run (Message says which).
	StateSkipped StepState = "skipped"
	// StateWarning: the step ended with a non-fatal problem; Run goes on.
	StateWarning StepState = "warning"
	// StateFailed: the step failed, and Run returns its error.
	StateFailed StepState = "failed"
)

// Event is one progress report. Message is human text without secrets.
type Event struct {
	// Step is the step reported.
	Step    StepID
	Subject string // e.g. the bucket name
	// State is where the step is.
	State StepState
	// Message says what happened, in words for the user; it never holds a
	// secret.
	Message string
}

// Observer receives progress while Run works, so the CLI can draw a
// checklist; the library itself never prints. Observe is called on Run's
// goroutine, so it must not block.
type Observer = observe.Observer[Event]

// ObserverFunc adapts a function to Observer.
type ObserverFunc = observe.Func[Event]
