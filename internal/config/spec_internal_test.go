package config

import (
	"reflect"
	"testing"
)

// TestSpecFieldTypesAreDecodable walks the Spec types so that a new field
// of a type the decoder does not handle fails here, not in a user's run.
func TestSpecFieldTypesAreDecodable(t *testing.T) {
	var walk func(t *testing.T, typ reflect.Type, path string)
	walk = func(t *testing.T, typ reflect.Type, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			p := path + "." + f.Name
			if tagName(f) == "" {
				t.Errorf("%s has no yaml tag", p)
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case isText(ft):
			case ft.Kind() == reflect.Struct:
				walk(t, ft, p)
			case ft == durationType, ft.Kind() == reflect.String, ft.Kind() == reflect.Bool, ft.Kind() == reflect.Int:
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			default:
				t.Errorf("%s has type %s, which the spec decoder does not handle", p, f.Type)
			}
		}
	}
	walk(t, reflect.TypeFor[Spec](), "Spec")
}
