package registry

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var setUp bool

func TestMain(m *testing.M) {
	setUp = true
	code := m.Run()
	os.Exit(code)
}

func TestSetUp(t *testing.T) {
	if !setUp {
		t.Fatal("TestMain did not run")
	}
}

func TestPluginsRegisterConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Register(fmt.Sprint("plugin", i), func(s string) string { return s })
		}()
	}
	wg.Wait()
}
