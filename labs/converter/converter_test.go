package converter

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// renderTime is how long every render takes in the tests, in the fake time
// of a synctest bubble.
const renderTime = 100 * time.Millisecond

// names are the documents' names: several share a prefix and a length, and
// none is part of another.
var names = []string{
	"guides/install.md", "guides/install-linux.md", "guides/installing.md",
	"guides/upgrade.md", "guides/uninstall.md", "ops/backup.md",
	"ops/backups.md", "ops/restore.md", "ops/rollback.md", "faq.md",
}

// goodDoc returns the i-th well-formed document, named names[i].
func goodDoc(i int) Doc {
	src := fmt.Sprintf("# Page %d\n\nThe wiki page number %d,\nwith a paragraph.\n", i, i)
	if i%2 == 1 {
		src += "\n| flag | default |\n|:--|--:|\n| -v | false |\n| -n | " + fmt.Sprint(i) + " |\n"
	}
	return Doc{Name: names[i], Source: []byte(src)}
}

// corruptDoc returns a document named names[i] that makes Render panic: a
// table row with more cells than the table's delimiter row.
func corruptDoc(i int) Doc {
	src := fmt.Sprintf("# Release %d\n\n| os | arch |\n|----|------|\n| linux | amd64 | extra cell %d |\n", i, i)
	return Doc{Name: names[i], Source: []byte(src)}
}

// binaryDoc returns a document named names[i] that Render rejects with
// ErrNotText.
func binaryDoc(i int) Doc {
	return Doc{Name: names[i], Source: []byte{0x89, 'P', 'N', 'G', 0, byte(i)}}
}

// slow returns a Renderer that takes renderTime, then renders src with
// Render, or panics with panics[src] when there is such an entry.
func slow(panics map[string]any) Renderer {
	return func(src []byte) ([]byte, error) {
		time.Sleep(renderTime)
		if v, ok := panics[string(src)]; ok {
			panic(v)
		}
		return Render(src)
	}
}

// A failure is what a test expects of a document that cannot be rendered.
type failure struct {
	text string // what ConvertAll's error must say about it: the panic value, or the renderer's error
	err  error  // what the error must wrap (errors.Is), if anything
}

// panicText returns the text of the value Render panics with on src.
func panicText(src []byte) (text string) {
	defer func() { text = fmt.Sprint(recover()) }()
	Render(src)
	return "Render did not panic"
}

// TestConvertAll converts batches of well-formed documents with 1 to 8
// workers.
func TestConvertAll(t *testing.T) {
	for _, c := range []struct{ workers, docs int }{
		{1, 3}, {2, 2}, {2, 7}, {3, 10}, {4, 3}, {8, 5}, {2, 0},
	} {
		inBubble(t, func(t *testing.T) {
			docs := make([]Doc, c.docs)
			for i := range docs {
				docs[i] = goodDoc(i)
			}
			convert(t, c.workers, docs, nil, map[int]failure{})
		})
	}
}

// TestConvertAllSurvivesPanics converts batches in which the renderer
// panics on some documents and fails on others.
func TestConvertAllSurvivesPanics(t *testing.T) {
	type doc struct {
		kind  string // "good", "corrupt" (Render panics), "binary" (Render fails), or "panic" (the test renderer panics)
		value any    // for "panic": what the renderer panics with
	}
	good, corrupt, binary := doc{kind: "good"}, doc{kind: "corrupt"}, doc{kind: "binary"}
	for _, c := range []struct {
		workers int
		docs    []doc
	}{
		// One worker, and the first document panics: the worker must go
		// on to the others.
		{1, []doc{corrupt, good, good}},
		{2, []doc{good, corrupt, good, good, corrupt, good}},
		{3, []doc{
			{kind: "panic", value: "markdown: unbalanced emphasis"},
			corrupt,
			{kind: "panic", value: errors.New("markdown: nesting too deep")},
			{kind: "panic", value: 42},
			corrupt,
		}},
		{8, []doc{good, {kind: "panic", value: fmt.Errorf("markdown: bad link %q", "[x](")}, binary}},
		{2, []doc{binary, good, corrupt, binary, good, good, corrupt}},
	} {
		inBubble(t, func(t *testing.T) {
			var docs []Doc
			panics := map[string]any{}
			fails := map[int]failure{}
			for i, d := range c.docs {
				switch d.kind {
				case "good":
					docs = append(docs, goodDoc(i))
				case "corrupt":
					docs = append(docs, corruptDoc(i))
					fails[i] = failure{text: panicText(docs[i].Source)}
				case "binary":
					docs = append(docs, binaryDoc(i))
					fails[i] = failure{text: ErrNotText.Error(), err: ErrNotText}
				case "panic":
					docs = append(docs, goodDoc(i))
					panics[string(docs[i].Source)] = d.value
					fails[i] = failure{text: fmt.Sprint(d.value)}
				}
			}
			convert(t, c.workers, docs, panics, fails)
		})
	}
}

// convert calls ConvertAll with docs, a Renderer that takes renderTime per
// document and panics with panics[src] on those sources, and workers
// workers, and checks what it returns: fails holds the documents that
// cannot be rendered, by index.
func convert(t *testing.T, workers int, docs []Doc, panics map[string]any, fails map[int]failure) {
	t.Helper()
	c := &Converter{Render: slow(panics), Workers: workers}
	start := time.Now()
	pages, err := c.ConvertAll(docs)
	elapsed := time.Since(start)

	batch := fmt.Sprintf("ConvertAll(%d documents, %d of which cannot be rendered) with %d workers", len(docs), len(fails), workers)
	if want := time.Duration((len(docs)+workers-1)/workers) * renderTime; elapsed > want {
		t.Errorf("serialized: %s took %v of fake time, want %v: every document takes %v to render, so %d workers render them in %v, and one at a time in %v",
			batch, elapsed, want, renderTime, workers, want, time.Duration(len(docs))*renderTime)
	} else if elapsed < want {
		t.Errorf("overspawn: %s took %v of fake time, want %v: every document takes %v to render, so more than %d documents were rendering at once",
			batch, elapsed, want, renderTime, workers)
	}

	if len(pages) != len(docs) {
		t.Fatalf("%s returned %d pages, want one per document, %d, even for documents that cannot be rendered", batch, len(pages), len(docs))
	}
	for i, d := range docs {
		if _, failed := fails[i]; failed {
			if pages[i].Name != "" || pages[i].HTML != nil {
				t.Errorf("%s: pages[%d] is %q with %d bytes of HTML, want the zero Page: %s cannot be rendered", batch, i, pages[i].Name, len(pages[i].HTML), d.Name)
			}
			continue
		}
		want, _ := Render(d.Source)
		if pages[i].Name != d.Name || string(pages[i].HTML) != string(want) {
			t.Errorf("%s: pages[%d] is %q with HTML %q, want %q with HTML %q: one page per document, in the order of the documents", batch, i, pages[i].Name, pages[i].HTML, d.Name, want)
		}
	}

	if len(fails) == 0 {
		if err != nil {
			t.Errorf("%s returned error %q, want nil: every document can be rendered", batch, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s returned no error, want one naming each document that cannot be rendered and saying why", batch)
		return
	}
	for i, f := range fails {
		if !strings.Contains(err.Error(), docs[i].Name) || !strings.Contains(err.Error(), f.text) {
			t.Errorf("%s: the error does not say that %s failed with %q; want one error per failed document, naming it, with the renderer's error or the value it panicked with. It says:\n%v", batch, docs[i].Name, f.text, err)
		}
		if f.err != nil && !errors.Is(err, f.err) {
			t.Errorf("%s: errors.Is(err, %v) is false: the error of %s must wrap the renderer's error. It says:\n%v", batch, f.err, docs[i].Name, err)
		}
	}
}

// watchdogTimeout bounds, in real time, how long a bubble may run. The tests
// here need milliseconds.
const watchdogTimeout = 3 * time.Second

// inBubble runs f in a synctest bubble, where time is fake and advances only
// when every goroutine in the bubble is durably blocked. A goroutine waiting
// on a sync.Mutex is not durably blocked, so a bubble can hang without any
// report: a real-time watchdog, started outside the bubble, then prints every
// goroutine and ends the test binary.
func inBubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	dog := time.AfterFunc(watchdogTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s is stuck; all goroutines:\n\n%s\n", t.Name(), buf)
		panic(fmt.Sprintf("deadlock: %s still running after %v of real time: goroutines are stuck where fake time cannot help, such as waiting for a sync.Mutex", t.Name(), watchdogTimeout))
	})
	defer dog.Stop()
	synctest.Test(t, f)
}
