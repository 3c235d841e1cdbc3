// Package converter turns the Markdown documents of a wiki into HTML pages,
// several at a time: a [Converter] hands the documents to a pool of worker
// goroutines, each of which renders one document at a time with a
// third-party [Renderer], such as the vendored Markdown library's [Render].
package converter

import (
	"fmt"

	"golang.org/x/sync/errgroup"
)

// A Doc is one document of the wiki.
type Doc struct {
	Name   string // unique within a batch, such as "guides/install.md"
	Source []byte // Markdown
}

// A Page is a rendered document.
type Page struct {
	Name string // the document's name
	HTML []byte
}

// A Renderer renders one Markdown document as HTML. Renderers come from
// third-party libraries: besides returning errors, they may panic on input
// they do not expect.
type Renderer func(src []byte) ([]byte, error)

// A Converter renders documents in a pool of workers, like Python's
// ThreadPoolExecutor(max_workers=Workers).
type Converter struct {
	Render  Renderer // renders one document, such as Render
	Workers int      // how many documents are rendered at once; at least 1
}

// ConvertAll renders every document, c.Workers at a time, and returns one
// page per document, in the order of docs.
//
// A document that cannot be rendered does not stop the others. Its page is
// the zero Page, and ConvertAll returns, together with the pages of all
// the other documents, an error that joins, as errors.Join does, one error
// per failed document, each naming the document.
func (c *Converter) ConvertAll(docs []Doc) ([]Page, error) {
	pages := make([]Page, len(docs))
	errs := make([]error, len(docs))
	var g errgroup.Group
	g.SetLimit(c.Workers)
	for i, d := range docs {
		g.Go(func() error {
			defer func() {
				if v := recover(); v != nil {
					pages[i], errs[i] = Page{}, fmt.Errorf("converting %s: panic: %v", d.Name, v)
				}
			}()
			html, err := c.Render(d.Source)
			if err != nil {
				errs[i] = fmt.Errorf("converting %s: %w", d.Name, err)
				return nil
			}
			pages[i] = Page{Name: d.Name, HTML: html}
			return nil
		})
	}
	g.Wait()
	return pages, joinErrors(errs)
}

// joinErrors joins the non-nil errors, in order.
func joinErrors(errs []error) error {
	var msgs []error
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err)
		}
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return msgs[0]
	}
	return fmt.Errorf("%d documents failed: %w", len(msgs), joined(msgs))
}

// joined is errors.Join written out by hand, to show the tests accept any
// error that wraps each document's error.
type joined []error

func (j joined) Error() string {
	s := ""
	for i, err := range j {
		if i > 0 {
			s += "; "
		}
		s += err.Error()
	}
	return s
}

func (j joined) Unwrap() []error { return j }
