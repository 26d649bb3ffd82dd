// A Go crypto/tls reader for the stack part of `make bench`: reads the
// records tests/bench/paced_server.py sends, with (*tls.Conn).Read, and
// prints its own CPU time (user + system, so uprobe handling counts) per
// record read.
//
// Usage: go_reader PORT RECORDS
// Output: records=N cpu_us_per_record=X
package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	want, _ := strconv.Atoi(os.Args[2])
	// discovery attaches to a new executable within tens of ms of its exec
	time.Sleep(time.Second)
	c, err := tls.Dial("tcp", "127.0.0.1:"+os.Args[1], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_reader:", err)
		os.Exit(1)
	}
	// a client writes its request first (and discovery probes a file
	// only when it has both a read and a write function)
	if _, err := c.Write([]byte("GET /v1/stream HTTP/1.1\r\nHost: bench\r\n\r\n")); err != nil {
		fmt.Fprintln(os.Stderr, "go_reader:", err)
		os.Exit(1)
	}
	buf := make([]byte, 65536)
	n, got := 0, 0
	var t0 time.Duration
	for got < want {
		k, err := c.Read(buf)
		if err != nil {
			break
		}
		if n == 0 {
			t0 = cpu() // from the first record: the handshake is not a read
		}
		n++
		got += bytes.Count(buf[:k], []byte("\n\n"))
	}
	if got < want {
		fmt.Fprintf(os.Stderr, "go_reader: %d of %d records\n", got, want)
		os.Exit(1)
	}
	fmt.Printf("records=%d reads=%d cpu_us_per_record=%.3f\n", got, n,
		float64(cpu()-t0)/1e3/float64(got-1))
}
