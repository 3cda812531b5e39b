package etf

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
)

// Map keys are written in the order Erlang keeps the keys of a small map
// (at most 32 keys): the exact term order, in which every integer comes
// before every float, then atoms, then binaries. Go map keys cannot be
// slices or maps, and Decode refuses list, tuple and map keys, so only
// numbers, atoms and binaries are compared here.

// canonical returns the Go value Encode writes for the map key k: int64
// or *big.Int, float64, string, Atom, bool or nil.
func canonical[A ~string](k any) (any, error) {
	switch x := k.(type) {
	case A:
		return Atom(x), nil
	case nil, bool, Atom, string, int64:
		return x, nil
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("%w: nil *big.Int map key", ErrUnsupported)
		}
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	}
	rv := reflect.ValueOf(k)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u > math.MaxInt64 {
			return new(big.Int).SetUint64(u), nil
		}
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: non-finite float %v", ErrUnsupported, f)
		}
		return f, nil
	case reflect.String:
		return rv.String(), nil
	}
	return nil, fmt.Errorf("%w: map key of Go type %T", ErrUnsupported, k)
}

// class ranks the kinds of canonical keys in Erlang term order.
func class(v any) int {
	switch v.(type) {
	case int64, *big.Int:
		return 0
	case float64:
		return 1
	case nil, bool, Atom:
		return 2
	}
	return 3 // string
}

// compare orders two canonical keys, as erts_cmp does in exact mode.
func compare(a, b any) int {
	if c := cmp.Compare(class(a), class(b)); c != 0 {
		return c
	}
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
		return -b.(*big.Int).Sign() // a big key never fits int64
	case *big.Int:
		if y, ok := b.(*big.Int); ok {
			return x.Cmp(y)
		}
		return x.Sign()
	case float64:
		return cmp.Compare(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	}
	return strings.Compare(atomName(a), atomName(b))
}

func atomName(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return string(v.(Atom))
}
