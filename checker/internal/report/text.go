package report

import (
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// Width is the width to fit text to on w: the terminal's, or $COLUMNS,
// or 100 when w is not a terminal (a log, a pipe), kept between 40 and 200.
func Width(w io.Writer) int {
	width := 0
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	if width == 0 {
		if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil {
			width = n
		}
	}
	if width == 0 {
		width = 100
	}
	return max(40, min(200, width))
}

// Wrap breaks text into lines of at most width runes at spaces, keeping
// the text's own line breaks. A word longer than width stays whole.
func Wrap(text string, width int) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			out = append(out, "")
			continue
		}
		// Keep a line's leading indentation on its continuation lines.
		lead := para[:len(para)-len(strings.TrimLeft(para, " "))]
		line := lead + words[0]
		for _, w := range words[1:] {
			if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
				out = append(out, line)
				line = lead + w
				continue
			}
			line += " " + w
		}
		out = append(out, line)
	}
	return out
}

// wrapLines wraps text to width and keeps at most n lines, ending the last
// kept one with … when text was longer.
func wrapLines(text string, width, n int) []string {
	lines := Wrap(text, width)
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	last := lines[n-1]
	for utf8.RuneCountInString(last)+2 > width {
		i := strings.LastIndex(last, " ")
		if i <= 0 {
			break
		}
		last = last[:i]
	}
	lines[n-1] = last + " …"
	return lines
}

// Sanitize makes text that came from code under test safe to print on a
// terminal: control characters and escape sequences are shown escaped,
// newlines and tabs kept.
func Sanitize(s string) string {
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			b.WriteString(strconv.QuoteRune(r)[1 : len(strconv.QuoteRune(r))-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == utf8.RuneError || r == '\u2028' || r == '\u2029' || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069)
}
