package spooler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// job is the i-th job of the tests, unlike any other.
func job(i int) Job { return Job{ID: i, Doc: fmt.Sprintf("invoice-%03d.pdf", i), Pages: 1 + i%3} }

// A taken is what one call of Next returned.
type taken struct {
	printer int
	job     Job
	ok      bool
}

// startPrinters starts n goroutines that each call Next once and send what
// it returned on the channel returned, which has room for all of them.
func startPrinters(s *Spool, n int) <-chan taken {
	got := make(chan taken, n)
	for p := 1; p <= n; p++ {
		go func() { // exits when Next returns
			nameGoroutine(fmt.Sprintf("printer %d", p))
			j, ok := s.Next()
			got <- taken{p, j, ok}
		}()
	}
	return got
}

// drain returns what is ready on got, without waiting.
func drain[T any](got <-chan T) []T {
	var out []T
	for {
		select {
		case v := <-got:
			out = append(out, v)
		default:
			return out
		}
	}
}

// notWoken says, in a failure message, that Close woke only some of the
// goroutines waiting in the spool's code whose names start with who
// ("printer"), and where the others are. They wait for good, which is a
// deadlock, unless they sleep: then they poll, and notice the spool closed
// only when they wake.
func notWoken(who string, woken, waiting int, want string) string {
	var left []goroutine
	polling := false
	for _, g := range goroutines() {
		if g.bubble && strings.HasPrefix(g.name(), who) {
			left = append(left, g)
			polling = polling || g.state == "sleep"
		}
	}
	if polling {
		return fmt.Sprintf("Close woke %d of the %d %ss waiting; the others sleep, and will notice the spool closed only when they wake: %s. Want Close to wake every waiting %s, so that %s at once", woken, waiting, who, waitingIn(left), who, want)
	}
	return fmt.Sprintf("deadlock: Close woke %d of the %d %ss waiting; the others wait for good: %s. Want Close to wake every waiting %s, so that %s", woken, waiting, who, waitingIn(left), who, want)
}

// done closes s and lets fake time run, so that a test that stops early
// leaves no printer or submitter behind that could still finish: the
// bubble reports any goroutine still blocked when the test returns.
func done(s *Spool) {
	s.Close()
	time.Sleep(time.Minute)
}

func TestSpoolInOrder(t *testing.T) {
	for _, capacity := range []int{1, 2, 5} {
		inBubble(t, func(t *testing.T) {
			s := New(capacity)
			defer done(s)
			submit := func(i int) {
				t.Helper()
				if err := s.Submit(job(i)); err != nil {
					t.Fatalf("Submit(job %d) to a spool of capacity %d = %v; want nil", i, capacity, err)
				}
			}
			next := func(i int, why string) {
				t.Helper()
				if j, ok := s.Next(); !ok || j != job(i) {
					t.Fatalf("Next() = %+v, %v; want %+v, true: %s", j, ok, job(i), why)
				}
			}
			// Fill the spool, then empty it.
			for i := range capacity {
				submit(i)
			}
			for i := range capacity {
				next(i, "jobs come out in the order they were submitted")
			}
			// One in, one out.
			for i := 10; i < 13; i++ {
				submit(i)
				next(i, "the job just submitted is the only one in the spool")
			}
			// Fill it again and close it: the jobs in it are still printed.
			for i := range capacity {
				submit(100 + i)
			}
			s.Close()
			s.Close() // again: nothing to do
			if err := s.Submit(job(200)); !errors.Is(err, ErrClosed) {
				t.Errorf("Submit after Close = %v; want ErrClosed", err)
			}
			for i := range capacity {
				next(100+i, "the jobs still in a closed spool are printed, in order")
			}
			if j, ok := s.Next(); ok {
				t.Errorf("Next() on a closed, empty spool = %+v, true; want false", j)
			}
		})
	}
}

// TestPrintersShareJobs has several printers wait for jobs on an empty
// spool, then submits one job, then the others, one at a time.
func TestPrintersShareJobs(t *testing.T) {
	for _, printers := range []int{2, 3} {
		inBubble(t, func(t *testing.T) {
			s := New(4)
			defer done(s)
			got := startPrinters(s, printers)
			synctest.Wait()
			if early := drain(got); len(early) > 0 {
				t.Fatalf("Next returned %+v on an empty, open spool; want every printer to wait for a job", early)
			}

			var all []taken
			for i := 1; i <= printers; i++ {
				if err := s.Submit(job(i)); err != nil {
					t.Fatalf("Submit(job %d) = %v; want nil", i, err)
				}
				synctest.Wait()
				now := drain(got)
				switch {
				case len(now) == 0:
					t.Fatalf("Submit added job %d while %d printers waited in Next, and none of them took it; want one of them to take it as soon as it is submitted: Submit must wake a waiting printer, not leave it to notice later", i, printers-i+1)
				case len(now) > 1:
					t.Fatalf("Submit added 1 job while %d printers waited in Next, and %d of them returned: %+v; want exactly one to take it, and the others to go on waiting", printers-i+1, len(now), now)
				}
				if now[0].job != job(i) || !now[0].ok {
					t.Fatalf("printer %d's Next() = %+v, %v; want %+v, true", now[0].printer, now[0].job, now[0].ok, job(i))
				}
				all = append(all, now...)
			}
			seen := map[int]bool{}
			for _, tk := range all {
				if seen[tk.printer] {
					t.Fatalf("printer %d returned from Next twice; it called it once", tk.printer)
				}
				seen[tk.printer] = true
			}
		})
	}
}

// TestSubmittersShareRoom has several submitters wait on a full spool,
// then takes one job at a time.
func TestSubmittersShareRoom(t *testing.T) {
	for _, capacity := range []int{1, 3} {
		for _, submitters := range []int{2, 3} {
			inBubble(t, func(t *testing.T) {
				s := New(capacity)
				defer done(s)
				for i := range capacity {
					if err := s.Submit(job(i)); err != nil {
						t.Fatalf("Submit(job %d) = %v; want nil", i, err)
					}
				}
				added := make(chan int, submitters) // the jobs whose Submit returned nil
				for k := 1; k <= submitters; k++ {
					go func() { // exits when Submit returns
						nameGoroutine(fmt.Sprintf("submitter %d", k))
						if err := s.Submit(job(100 + k)); err == nil {
							added <- 100 + k
						}
					}()
				}
				synctest.Wait()
				if early := drain(added); len(early) > 0 {
					t.Fatalf("Submit of job(s) %v returned nil on a full spool of capacity %d; want every submitter to wait for room", early, capacity)
				}

				want := []int{} // the jobs in the spool, oldest first
				for i := range capacity {
					want = append(want, i)
				}
				for room := 1; room <= submitters; room++ {
					if j, ok := s.Next(); !ok || j != job(want[0]) {
						t.Fatalf("Next() = %+v, %v; want %+v, true", j, ok, job(want[0]))
					}
					want = want[1:]
					synctest.Wait()
					now := drain(added)
					switch {
					case len(now) == 0:
						t.Fatalf("Next took 1 job from a full spool of capacity %d while %d submitters waited, and none of them added theirs; want one of them to add it as soon as there is room: Next must wake a waiting submitter, not leave it to notice later", capacity, submitters-room+1)
					case len(now) > 1:
						t.Fatalf("Next took 1 job from a full spool of capacity %d while %d submitters waited, and %d of them added theirs: jobs %v; want exactly one, since the spool holds at most %d jobs", capacity, submitters-room+1, len(now), now, capacity)
					}
					want = append(want, now...)
				}
				s.Close()
				for _, id := range want {
					if j, ok := s.Next(); !ok || j != job(id) {
						t.Fatalf("Next() = %+v, %v; want %+v, true: jobs come out in the order they went in", j, ok, job(id))
					}
				}
				if j, ok := s.Next(); ok {
					t.Fatalf("Next() = %+v, true, after every job submitted was taken; want false: the spool held more than its capacity of %d", j, capacity)
				}
			})
		}
	}
}

// TestCloseWakesEveryone closes spools while printers and submitters wait.
func TestCloseWakesEveryone(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const printers, submitters = 3, 2
		empty, full := New(2), New(1)
		defer done(empty)
		defer done(full)
		if err := full.Submit(job(0)); err != nil {
			t.Fatalf("Submit(job 0) = %v; want nil", err)
		}
		got := startPrinters(empty, printers)
		errs := make(chan error, submitters)
		for k := 1; k <= submitters; k++ {
			go func() { // exits when Submit returns
				nameGoroutine(fmt.Sprintf("submitter %d", k))
				errs <- full.Submit(job(k))
			}()
		}
		synctest.Wait()
		if n, m := len(got), len(errs); n > 0 || m > 0 {
			t.Fatalf("%d printers returned from Next on an empty spool and %d submitters from Submit on a full one; want all of them waiting", n, m)
		}

		empty.Close()
		synctest.Wait()
		woken := drain(got)
		for _, tk := range woken {
			if tk.ok {
				t.Errorf("printer %d's Next() on a closed, empty spool = %+v, true; want false", tk.printer, tk.job)
			}
		}
		if len(woken) < printers {
			// If the printers left wait for good, the bubble reports them
			// once the test waits for them too.
			t.Error(notWoken("printer", len(woken), printers, "each returns false from Next"))
			for range printers - len(woken) {
				<-got
			}
		}

		full.Close()
		synctest.Wait()
		woke := drain(errs)
		for _, err := range woke {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Submit, waiting on a full spool when it closed, returned %v; want ErrClosed", err)
			}
		}
		if len(woke) < submitters {
			t.Error(notWoken("submitter", len(woke), submitters, "each returns ErrClosed from Submit"))
			for range submitters - len(woke) {
				<-errs
			}
		}
		if j, ok := full.Next(); !ok || j != job(0) {
			t.Errorf("Next() on the closed spool = %+v, %v; want %+v, true: jobs already in a closed spool are still printed", j, ok, job(0))
		}
		if j, ok := full.Next(); ok {
			t.Errorf("Next() = %+v, true; want false: the closed spool is empty, and submitters waiting when it closed add nothing", j)
		}
	})
}

// TestBusySpool has submitters and printers use a small spool at once:
// every job is printed once.
func TestBusySpool(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const submitters, each, printers, capacity = 3, 8, 3, 2
		s := New(capacity)
		var mu sync.Mutex // protects printed
		var printed []int
		var wg sync.WaitGroup
		for p := 1; p <= printers; p++ {
			wg.Go(func() { // exits once the spool is closed and empty
				nameGoroutine(fmt.Sprintf("printer %d", p))
				for {
					j, ok := s.Next()
					if !ok {
						return
					}
					time.Sleep(time.Duration(j.Pages) * time.Second) // printing
					mu.Lock()
					printed = append(printed, j.ID)
					mu.Unlock()
				}
			})
		}
		var subs sync.WaitGroup
		for k := range submitters {
			subs.Go(func() { // exits once its jobs are in the spool
				nameGoroutine(fmt.Sprintf("submitter %d", k+1))
				for i := range each {
					if err := s.Submit(job(k*100 + i)); err != nil {
						t.Errorf("Submit(job %d) = %v; want nil", k*100+i, err)
					}
				}
			})
		}
		subs.Wait()
		s.Close()
		wg.Wait()

		var want []int
		for k := range submitters {
			for i := range each {
				want = append(want, k*100+i)
			}
		}
		slices.Sort(printed)
		if !slices.Equal(printed, want) {
			t.Errorf("printed jobs %v; want %v, each once", printed, want)
		}
	})
}

// TestPrintersAndSubmittersWait has printers wait for jobs on an empty
// spool, then one submitter submit more jobs than the spool holds, so that
// it waits for room while printers may still be waiting for jobs: taking a
// job must wake a waiting submitter, whoever else waits beside it. Each
// round is one chance for a printer to be woken in its place; there are
// many rounds.
func TestPrintersAndSubmittersWait(t *testing.T) {
	for _, capacity := range []int{1, 2} {
		for range 10 {
			inBubble(t, func(t *testing.T) {
				s := New(capacity)
				defer done(s)
				got := startPrinters(s, 2)
				synctest.Wait()
				jobs := capacity + 2 // one for each printer, and a full spool
				submitted := make(chan int, 1)
				go func() { // exits when its Submits return
					nameGoroutine("submitter")
					n := 0
					for i := range jobs {
						if s.Submit(job(i)) == nil {
							n++
						}
					}
					submitted <- n
				}()
				// A spool whose waiters poll gets a minute of fake time to
				// notice; one whose waiters wait for good gets nowhere.
				time.Sleep(time.Minute)
				synctest.Wait()
				select {
				case n := <-submitted:
					if n != jobs {
						t.Fatalf("%d of %d Submits on an open spool returned nil; want all of them", n, jobs)
					}
				default:
					taken := drain(got)
					t.Fatalf("deadlock: 2 printers waited in Next on an empty spool of capacity %d and a submitter submitted %d jobs; %d printer(s) took one, and now the submitter waits for room that is there or will never come: %s. Want every job taken out to wake a waiting submitter, and a new job a waiting printer, even while both kinds wait on the spool",
						capacity, jobs, len(taken), waitingIn(goroutines()))
				}
				if taken := drain(got); len(taken) != 2 {
					t.Fatalf("%d of 2 waiting printers got a job after %d were submitted; want both", len(taken), jobs)
				}
			})
		}
	}
}
