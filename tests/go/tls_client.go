// A Go program calling an OpenAI-style streaming chat endpoint over
// crypto/tls, for the tests of the Go probes (net/http only, no modules).
// The e2e test builds it stripped; the unit tests read its .gopclntab.
//
//	tls_client URL CAFILE h1|h2|grow BODY
//
// Waits for a line on stdin (the daemon has probed it by then), posts
// BODY, and prints one JSON line: the protocol, status, body, and the time
// to first token as llmobsd defines it: from the request's last byte
// written (httptrace's WroteRequest) to the read that completes the first
// event with a non-empty content delta. grow writes the HTTP/1.1
// request a byte per tls.(*Conn).Write, each from a new goroutine at
// another stack depth, so that some Write grows its stack in its prologue
// (and runs it twice), reads the response the same way into a buffer on
// the goroutine stack, which moves when a Read grows the stack, then
// waits for stdin to close before exiting.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: tls_client URL CAFILE h1|h2|grow BODY")
		os.Exit(2)
	}
	url, cafile, mode, body := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	pem, err := os.ReadFile(cafile)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	if mode == "h2" {
		tr.ForceAttemptHTTP2 = true // a custom TLS config turns it off otherwise
	} else {
		// an empty map turns HTTP/2 off: HTTP/1.1 only
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	stdin := bufio.NewReader(os.Stdin)
	stdin.ReadString('\n')
	if mode == "grow" {
		grow(url, pool, body)
		stdin.ReadString('\n')
		return
	}

	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-e2e-secret-never-served")
	var wrote time.Time
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote = time.Now() },
	}))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fail(err)
	}
	var text []byte
	var ttft time.Duration
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		text = append(text, buf[:n]...)
		if n > 0 && ttft == 0 && firstDelta.Match(text) {
			ttft = time.Since(wrote)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
	}
	resp.Body.Close()
	tr.CloseIdleConnections() // tls.(*Conn).Close ends the connection
	out, _ := json.Marshal(map[string]interface{}{
		"proto": resp.Proto, "status": resp.StatusCode, "body": string(text),
		"ttft_ms": float64(ttft.Microseconds()) / 1000,
	})
	fmt.Println(string(out))
}

var sink uint64

// firstDelta matches once a whole SSE event with a non-empty content delta
// has been read: when llmobsd counts the first token
var firstDelta = regexp.MustCompile(`"content":\s*"[^"][^\n]*\n\n`)

// deep calls f d frames further down the stack (frames of a few words).
//
//go:noinline
func deep(d int, f func()) {
	var pad [4]uint64
	pad[d%4] = uint64(d)
	if d == 0 {
		f()
		return
	}
	deep(d-1, f)
	sink += pad[0]
}

func grow(rawurl string, pool *x509.CertPool, body string) {
	u, err := url.Parse(rawurl)
	if err != nil {
		fail(err)
	}
	c, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		fail(err)
	}
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer sk-e2e-secret-never-served\r\nContent-Length: %d\r\n\r\n%s",
		u.Path, u.Host, len(body), body)
	for i := 0; i < len(req); i++ {
		done := make(chan struct{})
		go func(i int) { // a new goroutine: a small stack
			deep(i%160, func() {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					fail(err)
				}
			})
			close(done)
		}(i)
		<-done
	}
	wrote := time.Now()
	var ttft time.Duration
	var raw []byte // up to the end of the chunked body
	for i := 0; !bytes.HasSuffix(raw, []byte("0\r\n\r\n")); i++ {
		done := make(chan struct{})
		go func(i int) {
			deep(i%160, func() {
				var b [64]byte // on the stack: it does not escape
				n, err := c.Read(b[:])
				if err != nil {
					fail(err)
				}
				raw = append(raw, b[:n]...)
				if ttft == 0 && firstDelta.Match(raw) {
					ttft = time.Since(wrote)
				}
			})
			close(done)
		}(i)
		<-done
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		fail(err)
	}
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		fail(err)
	}
	c.Close()
	out, _ := json.Marshal(map[string]interface{}{
		"proto": resp.Proto, "status": resp.StatusCode, "body": string(text),
		"ttft_ms": float64(ttft.Microseconds()) / 1000, "writes": len(req),
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tls_client:", err)
	os.Exit(1)
}
