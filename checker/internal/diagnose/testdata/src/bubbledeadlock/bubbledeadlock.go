// Package bubbledeadlock waits for a reply nobody sends.
package bubbledeadlock

// Ask sends a question and waits for the answer on the same unbuffered
// channel it never hands to anyone.
func Ask() int {
	answers := make(chan int)
	return <-answers // want "deadlock"
}
