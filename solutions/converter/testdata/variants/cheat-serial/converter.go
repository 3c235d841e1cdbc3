// Package converter turns the Markdown documents of a wiki into HTML pages,
// several at a time: a [Converter] hands the documents to a pool of worker
// goroutines, each of which renders one document at a time with a
// third-party [Renderer], such as the vendored Markdown library's [Render].
package converter

import (
	"errors"
	"fmt"
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
	for i, d := range docs {
		pages[i], errs[i] = c.render(d)
	}
	return pages, errors.Join(errs...)
}

func (c *Converter) render(d Doc) (page Page, err error) {
	defer func() {
		if v := recover(); v != nil {
			page, err = Page{}, fmt.Errorf("converting %s: the renderer panicked: %v", d.Name, v)
		}
	}()
	html, err := c.Render(d.Source)
	if err != nil {
		return Page{}, fmt.Errorf("converting %s: %w", d.Name, err)
	}
	return Page{Name: d.Name, HTML: html}, nil
}
