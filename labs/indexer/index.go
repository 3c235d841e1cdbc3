package indexer

import "strings"

// An Index maps each word, in lower case, to the IDs of the documents that
// contain it, in the order the documents were added. An Index is not safe
// for concurrent use: add documents from one goroutine at a time.
type Index map[string][]string

// add indexes the document id, whose text is text: its words are split at
// white space and lower-cased, and each is listed once per document.
func (idx Index) add(id, text string) {
	seen := make(map[string]bool)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		if !seen[w] {
			seen[w] = true
			idx[w] = append(idx[w], id)
		}
	}
}
