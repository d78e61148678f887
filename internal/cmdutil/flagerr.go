package cmdutil

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// FlagErrorText is the message of an error the flag parser returned. A
// value the standard library could not parse as a number or a boolean is
// reported in words ("not a whole number") instead of with strconv's own
// text ("strconv.ParseInt: parsing \"abc\": invalid syntax"), which names
// Go functions a user never called; every other error keeps its text.
func FlagErrorText(err error) string {
	var ive *pflag.InvalidValueError
	var ne *strconv.NumError
	if !errors.As(err, &ive) || !errors.As(err, &ne) || ive.GetFlag() == nil {
		return err.Error()
	}
	f := ive.GetFlag()
	what := "not a valid value"
	switch f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "count":
		what = "not a whole number"
	case "float32", "float64":
		what = "not a number"
	case "bool":
		what = "not true or false"
	}
	if errors.Is(ne.Err, strconv.ErrRange) {
		what = "out of range"
	}
	return fmt.Sprintf("invalid argument %q for \"--%s\" flag: %s", ive.GetValue(), f.Name, what)
}
