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
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
