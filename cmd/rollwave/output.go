package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	jmespath "github.com/jmespath-community/go-jmespath"
)

// output is how a command prints its result: -o/--output text|json|table, and --query, a
// JMESPath expression (as in the aws CLI) applied to the JSON document before it is printed as
// JSON or as a table.
type output struct {
	format string
	query  string
	expr   jmespath.JMESPath
}

// outputFlags registers -o, --output (the same setting) and --query on fs.
func outputFlags(fs *flag.FlagSet) *output {
	o := &output{format: "text"}
	fs.StringVar(&o.format, "o", "text", "output format: text (for people), json (stable, for scripts) or table")
	fs.StringVar(&o.format, "output", "text", "the same as -o")
	fs.StringVar(&o.query, "query", "", "JMESPath expression applied to the JSON document, as in the aws CLI (with -o json or table)")
	return o
}

// check validates the flags once they are parsed: a usage error names what is wrong.
func (o *output) check() error {
	switch o.format {
	case "text", "json", "table":
	default:
		return usagef("-o %q: want text, json or table", o.format)
	}
	if o.query == "" {
		return nil
	}
	if o.format == "text" {
		return usagef("--query needs -o json or -o table")
	}
	expr, err := jmespath.Compile(o.query)
	if err != nil {
		return usagef("--query %q: %v", o.query, err)
	}
	o.expr = expr
	return nil
}

// json reports whether the result is printed as JSON (or a table made from it).
func (o *output) json() bool { return o.format != "text" }

// emit prints v: text calls text; json prints v (through --query) indented; table prints it
// (through --query) as a table: an array of objects one row each, an object one row per field.
func (a *app) emit(o *output, v any, text func(w io.Writer)) error {
	if o.format == "text" {
		text(a.stdout)
		return nil
	}
	doc, err := a.document(o, v)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return writeJSON(a, doc)
	}
	writeTable(a.stdout, doc)
	return nil
}

// document is v as generic JSON, with --query applied.
func (a *app) document(o *output, v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if o.expr == nil {
		return doc, nil
	}
	// JMESPath compares numbers as float64; json.Number would not compare.
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	got, err := o.expr.Search(plain)
	if err != nil {
		return nil, fmt.Errorf("--query %q: %w", o.query, err)
	}
	return got, nil
}

// writeTable prints a generic JSON value as an aligned table.
func writeTable(w io.Writer, doc any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch d := doc.(type) {
	case []any:
		var cols []string
		seen := map[string]bool{}
		for _, row := range d {
			if m, ok := row.(map[string]any); ok {
				for _, k := range sortedFields(m) {
					if !seen[k] {
						seen[k] = true
						cols = append(cols, k)
					}
				}
			}
		}
		if len(cols) == 0 { // an array of scalars
			for _, row := range d {
				fmt.Fprintln(tw, cell(row))
			}
			return
		}
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
		for _, row := range d {
			m, _ := row.(map[string]any)
			cells := make([]string, len(cols))
			for i, k := range cols {
				cells[i] = cell(m[k])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	case map[string]any:
		for _, k := range sortedFields(d) {
			fmt.Fprintf(tw, "%s\t%s\n", k, cell(d[k]))
		}
	default:
		fmt.Fprintln(tw, cell(d))
	}
}

// sortedFields are an object's keys, sorted.
func sortedFields(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cell renders one value in a table cell: scalars as they are, "-" for none, anything else as
// compact JSON.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return orDefault(truncate(v, 60), "-")
	case json.Number, float64, bool:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	return truncate(string(b), 60)
}
