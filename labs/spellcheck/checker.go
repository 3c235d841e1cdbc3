package spellcheck

// This file is the pool's process plumbing: what a page and a report are,
// how a spell-checker process checks pages, and how the pool talks to one
// over its pipes. You do not need to change it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Page is one page of the documentation site.
type Page struct {
	Path string // where the page lives in the site, "guide/install.md"
	Text string // the page's text
}

// A Report is what a checker found on one page.
type Report struct {
	Path string // the page's Path
	// Misspelled lists the words of the page that are not in the
	// dictionary, lowercased, each once, in the order they first appear.
	Misspelled []string
}

// ErrCrashed is wrapped by the error [Checker.Check] returns when the
// checker process died before it answered: it was killed, or it crashed
// on the page. A crashed Checker checks nothing more; close it, to reap
// its process, and start another.
var ErrCrashed = errors.New("the checker process crashed")

// A Launcher starts one checker process. The process lives until its
// Checker is closed or ctx is done, whichever comes first.
//
// [Exec] is the Launcher of the real site build; the tests supply their
// own.
type Launcher func(ctx context.Context) (*Checker, error)

// Exec returns a Launcher that runs the checker program at path (a program
// that speaks the protocol of [Serve] on its stdin and stdout) with
// os/exec.
func Exec(path string, args ...string) Launcher {
	return func(ctx context.Context) (*Checker, error) {
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return NewChecker(stdin, stdout, cmd.Wait), nil
	}
}

// A Checker is one running spell-checker process. Starting one is slow:
// the process loads its dictionary first. After that it checks page after
// page, for as long as it runs: Check sends it one page on its stdin and
// reads its answer from its stdout.
//
// A Checker is not safe for concurrent use: one goroutine at a time may
// call Check. Close must be called exactly once, after the last Check, to
// stop the process and reap it.
type Checker struct {
	stdin  io.WriteCloser // the process's stdin: requests
	stdout *bufio.Reader  // the process's stdout: answers
	wait   func() error   // waits for the process to exit and reaps it
	nextID int            // the id of the next request
	dead   error          // why the process stopped answering, once it has
}

// NewChecker returns a Checker for a started process whose stdin and
// stdout are the given pipes; wait waits for the process to exit, like
// [os/exec.Cmd.Wait].
func NewChecker(stdin io.WriteCloser, stdout io.Reader, wait func() error) *Checker {
	return &Checker{stdin: stdin, stdout: bufio.NewReader(stdout), wait: wait, nextID: 1}
}

// Check has the checker process check page and waits for its report.
//
// If the process dies before it answers, Check returns an error that
// wraps [ErrCrashed]. If the checker cannot check the page (it is not
// text), Check returns an error that does not: the process is fine and
// checks the next page.
func (c *Checker) Check(page Page) (Report, error) {
	if c.dead != nil {
		return Report{}, fmt.Errorf("checking %s: %w", page.Path, c.dead)
	}
	id := c.nextID
	c.nextID++
	if _, err := io.WriteString(c.stdin, formatRequest(id, page)); err != nil {
		c.dead = fmt.Errorf("%w: sending it a page: %v", ErrCrashed, err)
		return Report{}, fmt.Errorf("checking %s: %w", page.Path, c.dead)
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		c.dead = fmt.Errorf("%w: it stopped answering: %v", ErrCrashed, err)
		return Report{}, fmt.Errorf("checking %s: %w", page.Path, c.dead)
	}
	gotID, words, problem, err := parseAnswer(line)
	switch {
	case err != nil:
		return Report{}, fmt.Errorf("checking %s: %w", page.Path, err)
	case gotID != id:
		return Report{}, fmt.Errorf("checking %s: the checker answered request %d, not %d", page.Path, gotID, id)
	case problem != "":
		return Report{}, fmt.Errorf("checking %s: %s", page.Path, problem)
	}
	return Report{Path: page.Path, Misspelled: words}, nil
}

// Close closes the process's stdin, which tells it to exit, and waits for
// it to exit, so that it does not linger as a zombie. It returns the
// process's exit error, if any: a crashed process's is not nil.
func (c *Checker) Close() error {
	err := c.stdin.Close()
	if werr := c.wait(); werr != nil {
		return werr
	}
	return err
}

// The protocol, one line each way:
//
//	request: ID PATH TEXT                 PATH and TEXT quoted as Go strings
//	answer:  ID ok WORD...                the misspelled words, if any
//	answer:  ID error MESSAGE             MESSAGE quoted; the page was not checked
//
// ID is a number the checker repeats in its answer.

func formatRequest(id int, page Page) string {
	return fmt.Sprintf("%d %s %s\n", id, strconv.QuoteToASCII(page.Path), strconv.QuoteToASCII(page.Text))
}

// parseRequest parses a request line, without its newline.
func parseRequest(line string) (id int, page Page, err error) {
	idText, rest, _ := strings.Cut(line, " ")
	if id, err = strconv.Atoi(idText); err != nil {
		return 0, Page{}, fmt.Errorf("bad request %q: no id", line)
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return 0, Page{}, fmt.Errorf("bad request %q: no path", line)
	}
	page.Path, _ = strconv.Unquote(quoted)
	if page.Text, err = strconv.Unquote(strings.TrimPrefix(rest[len(quoted):], " ")); err != nil {
		return 0, Page{}, fmt.Errorf("bad request %q: no text", line)
	}
	return id, page, nil
}

// answer checks the page of one request and returns the answer line.
func answer(id int, page Page) string {
	if !utf8.ValidString(page.Text) {
		return fmt.Sprintf("%d error %s\n", id, strconv.Quote("not UTF-8 text"))
	}
	words := Misspelled(page.Text)
	if len(words) == 0 {
		return fmt.Sprintf("%d ok\n", id)
	}
	return fmt.Sprintf("%d ok %s\n", id, strings.Join(words, " "))
}

func parseAnswer(line string) (id int, words []string, problem string, err error) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return 0, nil, "", fmt.Errorf("the checker answered %q", line)
	}
	if id, err = strconv.Atoi(fields[0]); err != nil {
		return 0, nil, "", fmt.Errorf("the checker answered %q", line)
	}
	switch fields[1] {
	case "ok":
		return id, fields[2:], "", nil
	case "error":
		_, msg, _ := strings.Cut(strings.TrimSpace(line), " error ")
		if problem, err = strconv.Unquote(msg); err != nil {
			problem = msg
		}
		return id, nil, "the checker could not check it: " + problem, nil
	}
	return 0, nil, "", fmt.Errorf("the checker answered %q", line)
}

// Serve is the main loop of a checker process: it answers each request
// read from r on w, until r ends.
func Serve(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		id, page, err := parseRequest(sc.Text())
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, answer(id, page)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Misspelled returns the words of text that are not in the dictionary,
// lowercased, each once, in the order they first appear. A word is a run
// of letters, with apostrophes inside it ("don't").
func Misspelled(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	}) {
		w = strings.Trim(w, "'")
		if w == "" || dictionary[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// dictionary is the checker's word list: a small one, enough for the
// site's pages.
var dictionary = func() map[string]bool {
	d := map[string]bool{}
	for _, w := range strings.Fields(`
		a about add after all an and any are as at be before build by can
		change check code command config configure create data default
		directory do does don't each error every example file files first
		for from get go guide has have how if in install installed is it its
		key line list make more must new next not of on one or other page
		pages path port process program read release run runs same see
		server service set site start started step that the them then there
		these this to two use used user uses value version when which will
		with write you your server's it's
		backup cache client cluster database deploy deployment disk
		environment flag handler health image log logs memory metric
		network node option plugin queue request response restart secret
		storage task timeout token upgrade variable volume worker`) {
		d[w] = true
	}
	return d
}()
