package token

import (
	"github.com/nimbus-sh/nimbus/internal/idrule"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// IDPattern is the rule every id claim (tn, sub, sid, jti) must satisfy,
// written as upstream writes it in its error messages.
const IDPattern = "/^[A-Za-z0-9._-]{1,128}$/"

// IsIDComponent reports whether s may be used as a tenant, subject, session
// or sandbox id, or jti: 1 to 128 ASCII letters, digits, '.', '_' or '-'.
// Such ids are safe to join with ':' into Durable Object names.
func IsIDComponent(s string) bool { return idrule.Valid(s) }

// CheckIDComponent returns the upstream claims error for claim name when
// value is nil (the claim is missing) or not a valid id.
func CheckIDComponent(name string, value *string) error {
	if value != nil && IsIDComponent(*value) {
		return nil
	}
	got := "undefined"
	if value != nil {
		got = jsjson.Quote(*value)
	}
	return idError(name, got)
}

func idError(name, got string) *Error {
	return errClaims(name, name+" must match "+IDPattern+" (got: "+got+")")
}
