package converter

// This file stands in for the third-party Markdown library the wiki uses,
// vendored as is. You do not need to change it, and a fix here would not
// help: grading uses this copy, the next upstream release brings new bugs,
// and a converter must survive whatever its renderer does. Like much
// parsing code, it panics on some malformed input: a table row with more
// cells than the table's delimiter row indexes past the end of a slice.

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// ErrNotText is returned by [Render] for a document that is not UTF-8 text.
var ErrNotText = errors.New("markdown: not UTF-8 text")

// Render renders a small subset of Markdown as HTML: "#" headings,
// paragraphs, and pipe tables (a header row, a delimiter row such as
// "|:--|--:|", then body rows).
func Render(src []byte) ([]byte, error) {
	if !utf8.Valid(src) || bytes.IndexByte(src, 0) >= 0 {
		return nil, ErrNotText
	}
	var b bytes.Buffer
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			i++
		case strings.HasPrefix(line, "#"):
			level := min(len(line)-len(strings.TrimLeft(line, "#")), 6)
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", level, html.EscapeString(strings.TrimSpace(line[level:])), level)
			i++
		case strings.HasPrefix(line, "|") && i+1 < len(lines) && isDelimiterRow(lines[i+1]):
			i = renderTable(&b, lines, i)
		default:
			var para []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				para = append(para, strings.TrimSpace(lines[i]))
			}
			fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(strings.Join(para, " ")))
		}
	}
	return b.Bytes(), nil
}

// renderTable renders the table whose header row is lines[i] and returns
// the index of the first line after it.
func renderTable(b *bytes.Buffer, lines []string, i int) int {
	align := alignments(lines[i+1]) // one per column
	b.WriteString("<table>\n<tr>")
	for k, c := range cells(lines[i]) {
		fmt.Fprintf(b, "<th%s>%s</th>", align[k], html.EscapeString(c))
	}
	b.WriteString("</tr>\n")
	for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
		b.WriteString("<tr>")
		for k, c := range cells(lines[i]) {
			fmt.Fprintf(b, "<td%s>%s</td>", align[k], html.EscapeString(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	return i
}

// cells splits a table row such as "| a | b |" into its cells.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	cs := strings.Split(row, "|")
	for k := range cs {
		cs[k] = strings.TrimSpace(cs[k])
	}
	return cs
}

// isDelimiterRow reports whether row is a table's delimiter row, such as
// "|---|:--:|".
func isDelimiterRow(row string) bool {
	row = strings.TrimSpace(row)
	return strings.HasPrefix(row, "|") && strings.Trim(row, "|:- ") == "" && strings.Contains(row, "-")
}

// alignments returns the style attribute of each column of a table from
// its delimiter row.
func alignments(row string) []string {
	var align []string
	for _, c := range cells(row) {
		switch {
		case strings.HasPrefix(c, ":") && strings.HasSuffix(c, ":"):
			align = append(align, ` style="text-align:center"`)
		case strings.HasSuffix(c, ":"):
			align = append(align, ` style="text-align:right"`)
		case strings.HasPrefix(c, ":"):
			align = append(align, ` style="text-align:left"`)
		default:
			align = append(align, "")
		}
	}
	return align
}
