package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// checkOutput validates an --output flag.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageError{fmt.Errorf("--output %q: use text or json", output)}
	}
	return nil
}

// writeJSON prints v as indented JSON, the form of every --output json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "a -> b", not "a -\u003e b"
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// plural prints "1 topic", "2 topics".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// emit prints v for --output: as JSON, or as text by print.
func emit(w io.Writer, output string, v any, print func(io.Writer)) error {
	if output == "json" {
		return writeJSON(w, v)
	}
	print(w)
	return nil
}
