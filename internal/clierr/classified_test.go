package clierr

import (
	"errors"
	"fmt"
	"testing"
)

// kindError is a library error that classifies itself.
type kindError struct {
	exit       int
	code, hint string
	err        error
}

func (e *kindError) Error() string     { return "kind " + e.code }
func (e *kindError) Unwrap() error     { return e.err }
func (e *kindError) ExitCode() int     { return e.exit }
func (e *kindError) ErrorCode() string { return e.code }
func (e *kindError) ErrorHint() string { return e.hint }

func TestFrom(t *testing.T) {
	inner := &kindError{exit: 65, code: "E_INNER", hint: "fix the input"}
	outer := &kindError{exit: 75, code: "E_OUTER", err: inner}

	e, ok := From(fmt.Errorf("syncing: %w", inner))
	if !ok || e.Exit != 65 || e.Code != "E_INNER" || e.Message != "kind E_INNER" || e.Hint != "fix the input" || e.Plain || !errors.Is(e, inner) {
		t.Fatalf("wrapped classified error: %+v, %v", e, ok)
	}
	if e, _ := From(outer); e.Code != "E_OUTER" || e.Exit != 75 {
		t.Fatalf("the outermost classification must win: %+v", e)
	}
	ce := Usagef("bad flag")
	if e, ok := From(fmt.Errorf("x: %w", ce)); !ok || e != ce {
		t.Fatalf("an *Error must pass through unchanged: %+v", e)
	}
	if e, ok := From(&kindError{exit: 64, code: "E_USAGE_LIB", err: ce}); !ok || e != ce {
		t.Fatalf("an *Error in the chain wins over a classification: %+v", e)
	}
	if e, ok := From(errors.New("plain")); ok || e != nil {
		t.Fatalf("an unclassified error: %+v, %v", e, ok)
	}
	if e, ok := From(nil); ok || e != nil {
		t.Fatalf("nil: %+v, %v", e, ok)
	}
}
