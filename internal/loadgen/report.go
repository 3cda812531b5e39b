package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// report is a run's result: named values in the order they were set,
// and optionally a table (the shootout's steps, the stalled clients, the
// nodes of a cluster). It prints as a two-column table followed by the
// table, or as one JSON object on one line with the table's rows as
// objects under the table's name.
type report struct {
	keys []string
	vals map[string]any

	table string // the table's name in JSON: "steps", "stalled", "nodes"
	head  []string
	rows  [][]any
}

func newReport() *report { return &report{vals: map[string]any{}} }

// set sets key to v; a float is rounded to 3 decimals, NaN and infinities
// become null.
func (r *report) set(key string, v any) {
	if f, ok := v.(float64); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			v = nil
		} else {
			v = math.Round(f*1000) / 1000
		}
	}
	if _, ok := r.vals[key]; !ok {
		r.keys = append(r.keys, key)
	}
	r.vals[key] = v
}

func (r *report) addRow(row ...any) {
	for i, v := range row {
		if f, ok := v.(float64); ok {
			row[i] = math.Round(f*1000) / 1000
		}
	}
	r.rows = append(r.rows, row)
}

// writeJSON writes r as one line of JSON.
func (r *report) writeJSON(w io.Writer) error {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKV(&b, k, r.vals[k])
	}
	if r.table != "" {
		b.WriteByte(',')
		kb, _ := json.Marshal(r.table)
		b.Write(kb)
		b.WriteString(":[")
		for i, row := range r.rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, h := range r.head {
				if j > 0 {
					b.WriteByte(',')
				}
				writeKV(&b, h, row[j])
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeKV(b *strings.Builder, k string, v any) {
	kb, _ := json.Marshal(k)
	vb, err := json.Marshal(v)
	if err != nil {
		vb = []byte("null")
	}
	b.Write(kb)
	b.WriteByte(':')
	b.Write(vb)
}

// writeTable writes r as "  key  value" lines, then its table.
func (r *report) writeTable(w io.Writer) error {
	width := 0
	for _, k := range r.keys {
		width = max(width, len(k))
	}
	var b strings.Builder
	for _, k := range r.keys {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, k, text(r.vals[k]))
	}
	if r.table != "" {
		cells := [][]string{r.head}
		widths := make([]int, len(r.head))
		for _, row := range r.rows {
			var c []string
			for _, v := range row {
				c = append(c, text(v))
			}
			cells = append(cells, c)
		}
		for _, c := range cells {
			for j, s := range c {
				widths[j] = max(widths[j], len(s))
			}
		}
		b.WriteString("\n")
		for _, c := range cells {
			line := " "
			for j, s := range c {
				if j == 0 && r.table != "steps" && r.table != "stalled" {
					line += fmt.Sprintf(" %-*s", widths[j], s) // a name, not a number
					continue
				}
				line += fmt.Sprintf(" %*s", widths[j], s)
			}
			b.WriteString(line + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
