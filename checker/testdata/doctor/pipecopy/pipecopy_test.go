package pipecopy

import "testing"

func TestGzip(t *testing.T) {
	out, err := Gzip([]byte("hello, hello, hello"))
	if err != nil || len(out) == 0 {
		t.Fatalf("Gzip = %d bytes, %v", len(out), err)
	}
}
