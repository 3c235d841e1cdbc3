package orderbook

import (
	"errors"
	"fmt"
	"testing"
)

// A trader makes calls into a book, each under the tests' bound, one after
// another, and remembers the last one that returned: if a call then
// freezes on the book's lock while no goroutine is in the book's code,
// that call left the lock locked.
type trader struct {
	t    *testing.T
	b    *Book
	last string // the last call that returned, with what it returned
}

// do runs the call name, f, under the tests' bound, and fails the test and
// stops it if the call does not return. f returns what the call returned,
// for the record.
func (tr *trader) do(name string, f func() string) {
	tr.t.Helper()
	var result string
	c := start(name, func() { result = f() })
	if s, ok := wait(c); !ok {
		tr.t.Fatal(stallReport(s, tr.last))
	}
	tr.last = fmt.Sprintf("%s, returned %s", name, result)
}

func (tr *trader) place(o Order) error {
	tr.t.Helper()
	var err error
	tr.do(fmt.Sprintf("Place(%s)", show(o)), func() string {
		err = tr.b.Place(o)
		if err != nil {
			return fmt.Sprintf("the error %q", err)
		}
		return "nil"
	})
	return err
}

func (tr *trader) cancel(id string) (Order, error) {
	tr.t.Helper()
	var o Order
	var err error
	tr.do(fmt.Sprintf("Cancel(%q)", id), func() string {
		o, err = tr.b.Cancel(id)
		if err != nil {
			return fmt.Sprintf("the error %q", err)
		}
		return show(o)
	})
	return o, err
}

func (tr *trader) best() (bid, ask int64) {
	tr.t.Helper()
	tr.do("Best()", func() string {
		bid, ask = tr.b.Best()
		return fmt.Sprintf("%d, %d", bid, ask)
	})
	return bid, ask
}

func (tr *trader) len() int {
	tr.t.Helper()
	var n int
	tr.do("Len()", func() string {
		n = tr.b.Len()
		return fmt.Sprint(n)
	})
	return n
}

// show is an order as the messages print it: buy "b1" 5@100.
func show(o Order) string {
	return fmt.Sprintf("%v %q %d@%d", o.Side, o.ID, o.Qty, o.Price)
}

// stallReport says, in a tagged failure message, why calls did not return;
// before is the last call made before them, if they were made one at a
// time.
func stallReport(s stall, before string) string {
	if !s.frozen {
		tag := "deadlock: "
		for _, g := range s.gs {
			if !g.stuck() {
				tag = "" // busy, not stuck
			}
		}
		return fmt.Sprintf("%s%s still had not returned after %v; want every call to return at once.\n%s", tag, s.names(), stuckLimit, s)
	}
	if before != "" && len(s.gs) == 1 {
		return fmt.Sprintf("deadlock: %s never returned: it waits for the book's lock, which no goroutine in the book's code holds. "+
			"The call before it, %s and left the lock locked: a way out of that call does not unlock, so every call after it waits forever.\n%s",
			s.names(), before, s)
	}
	return fmt.Sprintf("deadlock: %s never returned: every goroutine in the book's code waits for its lock and none of them holds it: "+
		"a call that returned left the lock locked, so every call after it waits forever.\n%s", s.names(), s)
}

// seeded returns a book resting two buy orders (best bid 100) and two sell
// orders (best ask 105), and a trader for it.
func seeded(t *testing.T) *trader {
	tr := &trader{t: t, b: New()}
	for _, o := range []Order{
		{ID: "b1", Side: Buy, Price: 100, Qty: 5},
		{ID: "b2", Side: Buy, Price: 98, Qty: 1},
		{ID: "s1", Side: Sell, Price: 105, Qty: 4},
		{ID: "s2", Side: Sell, Price: 110, Qty: 2},
	} {
		if err := tr.place(o); err != nil {
			t.Fatalf("Place(%s) = %v; want nil", show(o), err)
		}
	}
	return tr
}

// wantUsable fails t unless the book seeded made still holds its four
// orders and still takes and cancels an order.
func wantUsable(t *testing.T, tr *trader) {
	t.Helper()
	if bid, ask := tr.best(); bid != 100 || ask != 105 {
		t.Errorf("Best() = %d, %d; want 100, 105", bid, ask)
	}
	if n := tr.len(); n != 4 {
		t.Errorf("Len() = %d; want 4", n)
	}
	ok := Order{ID: "ok", Side: Buy, Price: 101, Qty: 1}
	if err := tr.place(ok); err != nil {
		t.Errorf("Place(%s) = %v; want nil", show(ok), err)
	}
	if got, err := tr.cancel("ok"); err != nil || got != ok {
		t.Errorf("Cancel(\"ok\") = %s, %v; want %s, nil", show(got), err, show(ok))
	}
}

func TestPlace(t *testing.T) {
	tr := &trader{t: t, b: New()}
	if bid, ask := tr.best(); bid != 0 || ask != 0 {
		t.Errorf("Best() of an empty book = %d, %d; want 0, 0", bid, ask)
	}
	for _, step := range []struct {
		o        Order
		bid, ask int64
	}{
		{Order{ID: "s1", Side: Sell, Price: 105, Qty: 4}, 0, 105},
		{Order{ID: "s2", Side: Sell, Price: 110, Qty: 2}, 0, 105},
		{Order{ID: "b1", Side: Buy, Price: 100, Qty: 5}, 100, 105},
		{Order{ID: "b10", Side: Buy, Price: 104, Qty: 1}, 104, 105},
		{Order{ID: "s10", Side: Sell, Price: 105, Qty: 1}, 104, 105},
		{Order{ID: "b2", Side: Buy, Price: 98, Qty: 1}, 104, 105},
	} {
		if err := tr.place(step.o); err != nil {
			t.Fatalf("Place(%s) = %v; want nil", show(step.o), err)
		}
		if bid, ask := tr.best(); bid != step.bid || ask != step.ask {
			t.Errorf("after Place(%s), Best() = %d, %d; want %d, %d", show(step.o), bid, ask, step.bid, step.ask)
		}
	}
	if n := tr.len(); n != 6 {
		t.Errorf("Len() = %d; want 6", n)
	}
}

func TestCancel(t *testing.T) {
	tr := seeded(t)
	b10 := Order{ID: "b10", Side: Buy, Price: 104, Qty: 3}
	if err := tr.place(b10); err != nil {
		t.Fatalf("Place(%s) = %v; want nil", show(b10), err)
	}
	if got, err := tr.cancel("b10"); err != nil || got != b10 {
		t.Errorf("Cancel(\"b10\") = %s, %v; want %s, nil", show(got), err, show(b10))
	}
	if got, err := tr.cancel("b10"); !errors.Is(err, ErrNoOrder) {
		t.Errorf("Cancel(\"b10\") a second time = %s, %v; want ErrNoOrder", show(got), err)
	}
	wantUsable(t, tr)
}

// TestRejections drives every way Place and Cancel can fail, each on a
// book of its own, and then uses the book again.
func TestRejections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		want   error
		orders []Order  // to Place
		cancel []string // to Cancel
	}{{
		name: "invalid",
		want: ErrInvalid,
		orders: []Order{
			{ID: "", Side: Buy, Price: 101, Qty: 1},
			{ID: "x", Side: 0, Price: 101, Qty: 1},
			{ID: "x", Side: 3, Price: 101, Qty: 1},
			{ID: "x", Side: Buy, Price: 0, Qty: 1},
			{ID: "x", Side: Sell, Price: -5, Qty: 1},
			{ID: "x", Side: Sell, Price: 107, Qty: 0},
		},
	}, {
		name:   "duplicate",
		want:   ErrDuplicate,
		orders: []Order{{ID: "b1", Side: Buy, Price: 99, Qty: 1}, {ID: "s1", Side: Buy, Price: 101, Qty: 1}},
	}, {
		name:   "crossed buy",
		want:   ErrCrossed,
		orders: []Order{{ID: "b3", Side: Buy, Price: 105, Qty: 1}, {ID: "b3", Side: Buy, Price: 200, Qty: 9}},
	}, {
		name:   "crossed sell",
		want:   ErrCrossed,
		orders: []Order{{ID: "s3", Side: Sell, Price: 100, Qty: 1}, {ID: "s3", Side: Sell, Price: 1, Qty: 2}},
	}, {
		name:   "unknown cancel",
		want:   ErrNoOrder,
		cancel: []string{"b10", "", "s"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			tr := seeded(t)
			for _, o := range tt.orders {
				if err := tr.place(o); !errors.Is(err, tt.want) {
					t.Errorf("Place(%s) = %v; want %v", show(o), err, tt.want)
				}
				wantUsable(t, tr)
			}
			for _, id := range tt.cancel {
				if got, err := tr.cancel(id); !errors.Is(err, tt.want) {
					t.Errorf("Cancel(%q) = %s, %v; want %v", id, show(got), err, tt.want)
				}
				wantUsable(t, tr)
			}
		})
	}
}

// TestConcurrentOrders has several traders place and cancel orders at
// once, with every kind of rejection among them, while a screen shows the
// best prices. No order placed rests between 100 and 200, so the best bid
// and ask, and so every outcome, do not depend on the order the calls
// come in.
func TestConcurrentOrders(t *testing.T) {
	const traders, rounds = 6, 10
	tr := &trader{t: t, b: New()}
	for _, o := range []Order{{ID: "b0", Side: Buy, Price: 100, Qty: 1}, {ID: "s0", Side: Sell, Price: 200, Qty: 1}} {
		if err := tr.place(o); err != nil {
			t.Fatalf("Place(%s) = %v; want nil", show(o), err)
		}
	}
	b := tr.b
	type step struct {
		o      Order  // to Place, if there is no cancel
		cancel string // to Cancel
		want   error
	}
	wrong := make([]string, traders+1)
	var calls []*call
	for w := range traders {
		calls = append(calls, start(fmt.Sprintf("trader %d", w), func() {
			for r := range rounds {
				id := fmt.Sprintf("%d-%d", w, r)
				for _, s := range []step{
					{o: Order{ID: "b" + id, Side: Buy, Price: int64(50 + w), Qty: 1}},
					{o: Order{ID: "s" + id, Side: Sell, Price: int64(250 + r), Qty: 2}},
					{o: Order{ID: "b" + id, Side: Buy, Price: 60, Qty: 1}, want: ErrDuplicate},
					{o: Order{ID: "x" + id, Side: Buy, Price: int64(200 + w), Qty: 1}, want: ErrCrossed},
					{o: Order{ID: "y" + id, Side: Sell, Price: int64(100 - w), Qty: 1}, want: ErrCrossed},
					{o: Order{ID: "z" + id, Side: Sell, Price: 150, Qty: -1}, want: ErrInvalid},
					{cancel: "nope" + id, want: ErrNoOrder},
					{cancel: "s" + id},
				} {
					var err error
					what := ""
					if s.cancel != "" {
						what = fmt.Sprintf("Cancel(%q)", s.cancel)
						_, err = b.Cancel(s.cancel)
					} else {
						what = fmt.Sprintf("Place(%s)", show(s.o))
						err = b.Place(s.o)
					}
					if s.want == nil && err != nil || !errors.Is(err, s.want) {
						wrong[w] = fmt.Sprintf("%s = %v; want %v", what, err, s.want)
						return
					}
				}
			}
		}))
	}
	calls = append(calls, start("a screen showing Best and Len", func() {
		for range traders * rounds {
			if bid, ask := b.Best(); bid != 100 || ask != 200 {
				wrong[traders] = fmt.Sprintf("Best() = %d, %d; want 100, 200", bid, ask)
				return
			}
			b.Len()
		}
	}))
	if s, ok := wait(calls...); !ok {
		t.Fatal(stallReport(s, ""))
	}
	for _, w := range wrong {
		if w != "" {
			t.Errorf("while other traders used the book: %s", w)
		}
	}
	if bid, ask := tr.best(); bid != 100 || ask != 200 {
		t.Errorf("Best() = %d, %d; want 100, 200", bid, ask)
	}
	if n, want := tr.len(), 2+traders*rounds; n != want {
		t.Errorf("Len() = %d; want %d: every trader's buy orders rest, its sell orders were cancelled", n, want)
	}
}
