package jsjson

// Kind is the JSON type of a Value.
type Kind uint8

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is a parsed JSON value. Only the field matching Kind is meaningful.
// Arrays and objects both keep their children in Items, in order; array
// items have an empty Key. One shared representation lets Parse put every
// child of a document in a single allocation.
type Value struct {
	Kind  Kind
	Bool  bool
	Num   float64
	Str   string
	Items []Member
}

// Member is one key of an object, or one element of an array (Key empty).
type Member struct {
	Key   string
	Value Value
}

// Get returns the member named key (exact, case-sensitive match).
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for _, m := range v.Items {
		if m.Key == key {
			return m.Value, true
		}
	}
	return Value{}, false
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// NumberValue returns a number Value.
func NumberValue(f float64) Value { return Value{Kind: Number, Num: f} }
