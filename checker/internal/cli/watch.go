package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/term"

	"github.com/racelab/racelab/checker/internal/catalog"
	"github.com/racelab/racelab/checker/internal/engine"
	"github.com/racelab/racelab/checker/internal/report"
	"github.com/racelab/racelab/checker/internal/runner"
)

type watchOptions struct {
	interval time.Duration
	debounce time.Duration
	timeout  time.Duration
	noColor  bool
	once     bool
}

func (o *watchOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.DurationVar(&o.interval, "interval", time.Second, "how often to look for saved changes that file events missed (network drives, some containers)")
	fs.DurationVar(&o.debounce, "debounce", 100*time.Millisecond, "how long a burst of file events must be quiet before the lab runs")
	fs.DurationVar(&o.timeout, "timeout", runner.DefaultTime, "time limit for the lab's tests")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (also: NO_COLOR=1)")
	fs.BoolVar(&o.once, "exit-when-fixed", false, "stop once the lab is fixed (for scripts); without a terminal, watch ends there too")
	return fs
}

// Validate checks the options' values.
func (o *watchOptions) Validate() error {
	switch {
	case o.interval < 10*time.Millisecond || o.interval > time.Minute:
		return usagef("-interval must be between 10ms and 1m")
	case o.debounce < 0 || o.debounce > 5*time.Second:
		return usagef("-debounce must be between 0 and 5s")
	case o.timeout < time.Second:
		return usagef("-timeout must be at least 1s")
	}
	return nil
}

// The keys watch mode answers to, shown on its help line.
const watchHelp = "h hint · f full report · r run again · n/p next/previous lab · l list · x reset · q quit"

func runWatch(ctx context.Context, env Env, args []string) error {
	o := &watchOptions{}
	pos, err := parse(o.flags(), args)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("watch one lab at a time")
	}
	ws, err := openWorkspace(ctx, env)
	if err != nil {
		return err
	}
	ws.engine.Limits = runner.Limits{Time: o.timeout}
	start := 0
	if len(pos) == 1 {
		labs, err := selectLabs(env.Catalog, pos)
		if err != nil {
			return err
		}
		start = indexOf(env.Catalog, labs[0].ID)
	} else if next := nextLab(ws, nil); next != nil {
		start = indexOf(env.Catalog, next.ID)
	} else {
		fmt.Fprintln(env.Stdout, "Every lab is done. Name one to watch it anyway: `go run ./checker watch LAB`.")
		return nil
	}
	w := &watcher{env: env, ws: ws, o: o, style: withPaths(styleFor(env.Stdout, o.noColor), ws.root, env.Dir), lab: start}
	return w.loop(ctx)
}

func indexOf(cat catalog.Catalog, id string) int {
	for i, l := range cat {
		if l.ID == id {
			return i
		}
	}
	return 0
}

// A watcher is one watch session. Its state is owned by the goroutine
// running loop; file events, keys and runs reach it through channels.
type watcher struct {
	env   Env
	ws    *workspace
	o     *watchOptions
	style report.Style
	out   io.Writer // env.Stdout, with \n as \r\n while the terminal is raw
	keys  bool      // keys are read: stdin is a terminal

	lab     int             // index in the catalog of the lab being watched
	gen     int             // the run in flight, or the last one
	cancel  func()          // cancels the run in flight; nil when none
	changed time.Time       // when the change that started the run was saved
	last    *engine.Outcome // the last verdict of this lab
	full    bool            // show the full report instead of the compact one
	hints   int             // hints shown on screen for this lab
	took    time.Duration   // from the save to that verdict
	confirm string          // a question awaiting y/n ("reset"), or ""
	listing bool            // the list is on screen; any key goes back
	message string          // one line of feedback under the verdict
}

// runDone is a finished run, tagged with its generation so a run that a
// later save superseded is ignored.
type runDone struct {
	gen      int
	outcome  engine.Outcome
	err      error
	duration time.Duration
}

func (w *watcher) loop(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	w.out = w.env.Stdout
	if in, ok := w.env.Stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) && isTerminal(w.env.Stdout) {
		if state, err := term.MakeRaw(int(in.Fd())); err == nil {
			defer term.Restore(int(in.Fd()), state)
			w.keys = true
			w.out = crlfWriter{w.env.Stdout}
		}
	}
	keys := make(chan byte)
	if w.keys {
		go readKeys(ctx, w.env.Stdin, keys) // ends with ctx, or when stdin ends
	}
	events, closeEvents := watchEvents(w.ws)
	defer closeEvents()
	poll := time.NewTicker(w.o.interval)
	defer poll.Stop()
	spin := time.NewTicker(250 * time.Millisecond)
	defer spin.Stop()
	results := make(chan runDone)
	var debounce <-chan time.Time
	fingerprint := ""
	saved := func() {
		// An editor's save is a burst of events: run once it is quiet.
		if debounce == nil {
			w.changed = time.Now()
		}
		debounce = time.After(w.o.debounce)
	}

	w.switchTo(w.lab)
	fingerprint = snapshot(w.dir())
	w.start(ctx, results, time.Now())
	for {
		select {
		case <-ctx.Done():
			w.stopRun()
			w.clearLine()
			return nil
		case name := <-events:
			if filepath.Dir(name) == w.dir() && strings.HasSuffix(name, ".go") {
				fingerprint = snapshot(w.dir())
				saved()
			}
		case <-poll.C:
			if cur := snapshot(w.dir()); cur != fingerprint {
				fingerprint = cur
				saved()
			}
		case <-debounce:
			debounce = nil
			w.start(ctx, results, w.changed)
		case <-spin.C:
			if w.cancel != nil {
				w.drawRunning()
			}
		case r := <-results:
			if r.gen != w.gen {
				continue // superseded by a later save
			}
			w.cancel = nil
			if r.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				w.message = "could not run the lab: " + r.err.Error()
				w.drawMessage()
				continue
			}
			w.last, w.took = &r.outcome, r.duration
			saveResults(w.ws, []engine.Outcome{r.outcome})
			w.draw()
			if r.outcome.Status == engine.Fixed && w.o.once {
				return nil
			}
		case k, ok := <-keys:
			if !ok {
				keys = nil
				continue
			}
			if quit := w.key(ctx, k, results); quit {
				w.stopRun()
				w.clearLine()
				return nil
			}
			fingerprint = snapshot(w.dir()) // the lab may have changed, or been reset
		}
	}
}

// dir is the folder of the lab being watched.
func (w *watcher) dir() string { return filepath.Join(w.ws.root, w.ws.cat[w.lab].Dir()) }

// start runs the current lab, cancelling the run in flight: a save never
// waits for an old run, hung or not.
func (w *watcher) start(ctx context.Context, results chan<- runDone, changed time.Time) {
	w.stopRun()
	w.gen++
	gen := w.gen
	w.changed = changed
	runCtx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	l := w.ws.cat[w.lab]
	job := engine.Job{Lab: l, Name: l.Dir(), Dir: l.Dir()}
	if isTerminal(w.env.Stdout) {
		w.drawRunning()
	} else {
		fmt.Fprintf(w.out, "running %s…\n", l.ID)
	}
	go func() { // ends when the run ends; the send is matched by loop, which drains results until it returns
		outcomes, err := w.ws.runLabs(runCtx, []engine.Job{job}, false)
		r := runDone{gen: gen, err: err, duration: time.Since(changed)}
		if err == nil && len(outcomes) == 1 {
			r.outcome = outcomes[0]
		}
		if runCtx.Err() != nil {
			r.err = runCtx.Err()
		}
		select {
		case results <- r:
		case <-ctx.Done():
		}
	}()
}

func (w *watcher) stopRun() {
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
}

// switchTo makes lab i the one watched.
func (w *watcher) switchTo(i int) {
	w.lab = i
	w.last, w.full, w.hints, w.confirm, w.message = nil, false, 0, "", ""
	id := w.ws.cat[i].ID
	updateProgress(w.ws.root, func(p *progress) { p.Current = id })
}

// key handles one key press and reports whether to quit.
func (w *watcher) key(ctx context.Context, k byte, results chan<- runDone) bool {
	l := w.ws.cat[w.lab]
	if w.listing {
		w.listing = false
		w.draw()
		return false
	}
	if w.confirm != "" {
		q := w.confirm
		w.confirm = ""
		if k == 'y' || k == 'Y' {
			switch q {
			case "reset":
				if backup, err := resetLab(ctx, w.ws.root, l, time.Now()); err != nil {
					w.message = "reset: " + err.Error()
				} else {
					w.message = "reset: your version is kept in " + relTo(w.env.Dir, backup)
				}
				w.start(ctx, results, time.Now())
				return false
			}
		}
		w.message = q + ": cancelled"
		w.draw()
		return false
	}
	switch k {
	case 'q', 3, 4: // q, Ctrl-C, Ctrl-D
		return true
	case 'h':
		if w.hints < len(l.Hints) {
			w.hints++
			updateProgress(w.ws.root, func(p *progress) { p.Hints[l.ID] = max(p.Hints[l.ID], w.hints) })
		} else {
			w.message = "that was the last hint"
		}
	case 'f':
		w.full = !w.full
	case 'r':
		w.start(ctx, results, time.Now())
		return false
	case 'n', '\r', '\n':
		if k != 'n' && (w.last == nil || w.last.Status != engine.Fixed) {
			return false
		}
		if w.lab+1 < len(w.ws.cat) {
			w.switchTo(w.lab + 1)
			w.start(ctx, results, time.Now())
			return false
		}
		w.message = "this is the last lab"
	case 'p':
		if w.lab > 0 {
			w.switchTo(w.lab - 1)
			w.start(ctx, results, time.Now())
			return false
		}
		w.message = "this is the first lab"
	case 'l':
		w.clear()
		runList(ctx, Env{Stdout: w.out, Stderr: w.out, Dir: w.env.Dir, Catalog: w.ws.cat}, []string{"-no-color=" + fmt.Sprint(!w.style.Color)})
		fmt.Fprintf(w.out, "\n%s\n", w.style.Dim("any key: back to "+l.ID))
		w.listing = true
		return false
	case 'x':
		w.confirm = "reset"
		w.message = "reset " + l.Dir() + " as shipped? Your version is backed up first. y/n"
	case '?':
		w.message = watchHelp
	default:
		return false
	}
	w.draw()
	return false
}

// watchEvents reports the files of any lab that file system events say
// changed. It watches every lab's folder, so switching labs needs no new
// watch; where events do not work (no inotify left, some network drives)
// it reports nothing and watch relies on its poll. The returned function
// stops it.
func watchEvents(ws *workspace) (<-chan string, func()) {
	out := make(chan string, 64)
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return out, func() {}
	}
	for _, l := range ws.cat {
		fw.Add(filepath.Join(ws.root, l.Dir())) // a lab whose folder is gone is polled
	}
	go func() { // ends when fw is closed
		for {
			select {
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				select {
				case out <- ev.Name:
				default: // the loop is busy; its poll will notice
				}
			case _, ok := <-fw.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	return out, func() { fw.Close() }
}

// snapshot fingerprints the .go files of dir by name, size and mtime.
func snapshot(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s|%d|%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}

// readKeys sends each byte read from in until ctx ends or in fails.
func readKeys(ctx context.Context, in io.Reader, keys chan<- byte) {
	defer close(keys)
	buf := make([]byte, 16)
	for {
		n, err := in.Read(buf)
		for _, b := range buf[:n] {
			select {
			case keys <- b:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// --- drawing -------------------------------------------------------------------

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (w *watcher) clear() {
	if isTerminal(w.env.Stdout) {
		fmt.Fprint(w.out, "\x1b[H\x1b[2J")
	}
}

func (w *watcher) clearLine() {
	if isTerminal(w.env.Stdout) {
		fmt.Fprint(w.out, "\r\x1b[K")
	}
}

// header is the first lines of every screen: where the learner is.
func (w *watcher) header() {
	l := w.ws.cat[w.lab]
	p := loadProgress(w.ws.root)
	done := 0
	for _, x := range w.ws.cat {
		if p.isDone(w.ws.root, w.ws.cat, x.ID) {
			done++
		}
	}
	fmt.Fprintf(w.out, "%s %s\n", w.style.Bold(fmt.Sprintf("racelab watch · %d of %d labs done", done, len(w.ws.cat))), progressBar(done, len(w.ws.cat), 20))
	fmt.Fprintf(w.out, "%s %s — %s\n", w.style.Bold(fmt.Sprintf("lab %d/%d:", w.lab+1, len(w.ws.cat))), w.style.Bold(l.ID), l.Title)
	fmt.Fprintf(w.out, "%s\n", w.style.Dim(fmt.Sprintf("edit %s · %s · difficulty %d · about %d min",
		relTo(w.env.Dir, filepath.Join(w.ws.root, l.Dir(), strings.Join(l.Files, ", "))), l.Block, l.Difficulty, l.Minutes)))
}

// drawRunning shows that a run is in progress: a spinner on a terminal,
// one line otherwise.
func (w *watcher) drawRunning() {
	if !isTerminal(w.env.Stdout) {
		return
	}
	frame := spinner[int(time.Since(w.changed)/(250*time.Millisecond))%len(spinner)]
	if w.last == nil {
		w.clear()
		w.header()
		fmt.Fprintln(w.out)
	}
	fmt.Fprintf(w.out, "\r\x1b[K%s %s", frame, w.style.Dim(fmt.Sprintf("running %s under -race… %.1fs", w.ws.cat[w.lab].ID, time.Since(w.changed).Seconds())))
}

// drawMessage shows the pending message on a line of its own.
func (w *watcher) drawMessage() {
	w.clearLine()
	fmt.Fprintf(w.out, "%s\n", w.style.Yellow(report.Sanitize(w.message)))
	w.message = ""
}

// draw shows the last verdict: compact (kind, line, why, where to look),
// or the full report.
func (w *watcher) draw() {
	if w.last == nil {
		return
	}
	o := *w.last
	l := w.ws.cat[w.lab]
	width := report.Width(w.env.Stdout)
	w.clear()
	w.header()
	fmt.Fprintln(w.out)
	after := fmt.Sprintf("verdict %.1fs after the change", w.took.Seconds())
	switch o.Status {
	case engine.Fixed:
		fmt.Fprintf(w.out, "%s %s\n", w.style.Green("✓ fixed:"), report.OneLine(o)+w.style.Dim(" · "+after))
	case engine.Errored:
		fmt.Fprintf(w.out, "%s %s\n", w.style.Yellow("! could not run:"), report.Sanitize(o.Err.Error()))
	default:
		fmt.Fprintf(w.out, "%s %s\n", w.style.Red("✗ "+report.StatusText(o)), w.style.Dim("· "+after))
	}
	switch {
	case w.full:
		fmt.Fprintln(w.out)
		report.Details(w.out, w.style, o, false)
	case o.Status == engine.Broken:
		w.compact(o, width)
	case o.Status == engine.Fixed:
		for _, n := range o.Notes {
			fmt.Fprintf(w.out, "%s %s\n", w.style.Yellow("note:"), report.Sanitize(n))
		}
		fmt.Fprintln(w.out)
		writeSolution(w.out, w.style, w.ws.root, w.env.Dir, l)
		if w.lab+1 < len(w.ws.cat) {
			next := w.ws.cat[w.lab+1]
			fmt.Fprintf(w.out, "\n%s %s — %s\n", w.style.Bold("Press enter (or n) for the next lab:"), next.ID, next.Title)
		} else {
			fmt.Fprintf(w.out, "\n%s\n", w.style.Green("That was the last lab. Well done."))
		}
	}
	if w.hints > 0 {
		fmt.Fprintln(w.out)
		writeHints(w.out, w.style, width, l, w.hints)
	}
	if w.message != "" {
		fmt.Fprintf(w.out, "\n%s\n", w.style.Yellow(w.message))
		w.message = ""
	}
	switch {
	case o.Status == engine.Fixed && w.o.once:
		// watch ends here: nothing more to say
	case w.keys:
		fmt.Fprintf(w.out, "\n%s\n", w.style.Dim(watchHelp))
	default:
		fmt.Fprintf(w.out, "\n%s\n", w.style.Dim("watching "+l.Dir()+": save to run again · Ctrl-C to stop"))
	}
}

// compact shows the most important finding in a few lines: the kind, the
// learner's line, why, and the direction of the fix.
func (w *watcher) compact(o engine.Outcome, width int) {
	f, ok := o.Result.Primary()
	if !ok {
		return
	}
	fmt.Fprintln(w.out)
	for _, line := range report.Wrap(report.Sanitize(f.Summary), width) {
		fmt.Fprintln(w.out, line)
	}
	if f.File != "" {
		fmt.Fprintf(w.out, "  at %s\n", w.style.Bold(relTo(w.env.Dir, filepath.Join(w.ws.root, f.File))+fmt.Sprintf(":%d", f.Line)))
	}
	if fix := fixLine(f.Explanation); fix != "" {
		fmt.Fprintln(w.out)
		for _, line := range report.Wrap(fix, width) {
			fmt.Fprintln(w.out, line)
		}
	}
	if n := len(o.Result.Findings) - 1; n > 0 {
		fmt.Fprintf(w.out, "\n%s\n", w.style.Dim(fmt.Sprintf("%d more finding(s): press f for the full report", n)))
	}
	for _, n := range o.Notes {
		fmt.Fprintf(w.out, "%s %s\n", w.style.Yellow("note:"), report.Sanitize(n))
	}
}

// fixLine is the explanation's "Fix: ..." sentence, if it has one.
func fixLine(explanation string) string {
	for _, l := range strings.Split(explanation, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Fix:") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// crlfWriter turns \n into \r\n: a terminal in raw mode does not return
// the carriage by itself.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
