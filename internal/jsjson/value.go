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

// Set assigns v[key] = val with JavaScript's semantics: an existing member
// keeps its position, a new one goes after the others, except that
// canonical array-index keys ("0", "42") stay first in ascending order, as
// JavaScript enumerates them. It panics if v is not an object.
func (v *Value) Set(key string, val Value) {
	if v.Kind != Object {
		panic("jsjson: Set on a non-object")
	}
	for i := range v.Items {
		if v.Items[i].Key == key {
			v.Items[i].Value = val
			return
		}
	}
	v.Items = append(v.Items, Member{Key: key, Value: val})
	if _, ok := arrayIndex(key); ok {
		orderIntegerKeys(v.Items)
	}
}

// Ptr returns a pointer to the member named key, or nil, so nested values
// can be changed in place.
func (v *Value) Ptr(key string) *Value {
	if v.Kind != Object {
		return nil
	}
	for i := range v.Items {
		if v.Items[i].Key == key {
			return &v.Items[i].Value
		}
	}
	return nil
}
