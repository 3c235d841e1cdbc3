// Command checker runs Racelab's labs under the race detector, explains
// every failure in the learner's terms, and grades fixes.
//
//	go run ./checker                  every lab: a table of verdicts and the lab to do next
//	go run ./checker run LAB...       labs in depth: every finding in full
//	go run ./checker list             the catalog with each lab's last verdict
//	go run ./checker hint LAB         the next hint for a lab
//	go run ./checker watch [LAB]      re-run a lab each time it is saved
//	go run ./checker verify           maintainers: labs fail as declared, solutions pass
//	go run ./checker grade --submission DIR
//	                                  grade a learner's copy without trusting it
//	go run ./checker grade --class DIR -out DIR [--shard K/N]
//	                                  grade a class, resumably, into a gradebook
//	go run ./checker merge -out DIR GRADEBOOK...
//	                                  combine the gradebooks of a class's shards
//	go run ./checker help [COMMAND]
//
// Each lab runs in its own test process, always with -race, under a time,
// memory and output limit that kills the lab's whole process group. Test
// binaries are built once by one go command and reused while the code is
// unchanged.
//
// # Exit codes
//
// 0 every graded lab passes; 1 some lab fails; 2 the command line is
// wrong; 3 the checker itself failed (no Go toolchain, cgo off, outside the
// repository, an internal error).
//
// # JSON output (schema racelab.check/v1)
//
// check and run with -json print one document:
//
//	{
//	  "schema": "racelab.check/v1",
//	  "go": "go1.26.8",                 // the toolchain that ran the tests
//	  "labs": [{
//	    "id": "bank", "title": "...", "block": "locks", "difficulty": 2,
//	    "dir": "labs/bank",             // the package that ran
//	    "gomaxprocs": 2,                // only when set with -gomaxprocs
//	    "status": "broken",             // "fixed" | "broken" | "error"
//	    "kind": "deadlock",             // the most important kind, when broken
//	    "kinds": ["deadlock"],          // every kind found, most important first
//	    "summary": "...",               // one line
//	    "error": "...",                 // why the lab could not run, when status is "error"
//	    "duration_ms": 812,
//	    "tests": [{"name": "TestTransfer", "status": "pass", "elapsed_ms": 3}],
//	                                    // status: "pass" | "fail" | "skip" | "unfinished"
//	    "findings": [{
//	      "kind": "deadlock",           // race, deadlock, leak, overspawn, serialized, timeout,
//	                                    // panic, wrong result, build error, vet error
//	      "test": "TestTransferBothWays",
//	      "title": "inconsistent lock order", // what the detector called it; stable
//	      "file": "labs/bank/bank.go", "line": 61, // in the learner's code, when known
//	      "summary": "...", "explanation": "...", "evidence": "...",
//	      "count": 2,                   // identical reports merged
//	      "sites": [{"role": "...", "file": "...", "line": 58, "func": "...", "code": "...", "in_lab": true}]
//	    }]
//	  }],
//	  "summary": {"fixed": 1, "broken": 3, "errors": 0, "total": 4, "next": "fares"}
//	}
//
// Within a schema version fields are only added, never renamed or removed.
// grade -json prints schema racelab.grade/v1, documented in package
// checker/internal/grade.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/racelab/racelab/checker/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "racelab: cannot read the working directory: %v\n", err)
		os.Exit(cli.ExitError)
	}
	code := cli.Main(ctx, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: dir}, os.Args[1:])
	stop()
	os.Exit(code)
}
