// A Go program calling an OpenAI-style streaming chat endpoint over
// crypto/tls, for the tests of the Go probes (net/http only, no modules).
// The e2e test builds it stripped; the unit tests read its .gopclntab.
//
//	tls_client URL CAFILE h1|h2 BODY
//
// Waits for a line on stdin (the daemon has probed it by then), posts
// BODY, and prints one JSON line: the protocol, status, body, and the time
// from the request to the first body byte.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: tls_client URL CAFILE h1|h2 BODY")
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
	bufio.NewReader(os.Stdin).ReadString('\n')

	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-e2e-secret-never-served")
	t0 := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fail(err)
	}
	var text []byte
	var ttft time.Duration
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && text == nil {
			ttft = time.Since(t0)
		}
		text = append(text, buf[:n]...)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tls_client:", err)
	os.Exit(1)
}
