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
type Value struct {
	Kind Kind
	Bool bool
	Num  float64
	Str  string
	Arr  []Value
	Obj  []Member
}

// Member is one key of an object, in order.
type Member struct {
	Key   string
	Value Value
}

// Get returns the member named key (exact, case-sensitive match).
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for _, m := range v.Obj {
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
