package main

import (
	"bytes"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// callCounter counts the AWS API calls that pass through it on their way to moto, by the access
// key ID that signed them and by "service:Operation" (the signing name: sqs, events,
// monitoring). The workers' endpoint points at it; moto's other clients (fleetsim's PutEvents,
// the demo's own receives) go to moto directly and sign with other keys, so they are not counted
// as the workers'. fleetsim counts the ECS, SSM and EC2 calls itself.
type callCounter struct {
	proxy  *httputil.ReverseProxy
	mu     sync.Mutex
	counts map[string]map[string]int
}

func newCallCounter(target *url.URL) *callCounter {
	c := &callCounter{counts: map[string]map[string]int{}}
	c.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the signature covers the host the client sent
		},
		// A worker's long poll cut short when it stops is no news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return c
}

func (c *callCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, op := callOf(r)
	c.mu.Lock()
	if c.counts[caller] == nil {
		c.counts[caller] = map[string]int{}
	}
	c.counts[caller][op]++
	c.mu.Unlock()
	c.proxy.ServeHTTP(w, r)
}

// Counts returns a copy of the counts so far, by caller and "service:Operation".
func (c *callCounter) Counts() map[string]map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = maps.Clone(v)
	}
	return out
}

// serve serves the counter on a free loopback port until the returned stop is called.
func (c *callCounter) serve() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: c}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// callOf returns who made an AWS API call and what it was: the access key ID and the service
// (the signing name) from the Authorization header's Credential, and the operation from
// X-Amz-Target (JSON protocols: "AmazonSQS.SendMessage"), the path (Smithy RPC v2:
// ".../operation/PutMetricData") or the Action parameter (query protocol, in the URL or the form
// body, which it reads and puts back). An unsigned call is "-", an operation it cannot tell "?".
func callOf(r *http.Request) (caller, op string) {
	caller, service := "-", "?"
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		cred, _, _ = strings.Cut(cred, ",")
		// AKID/date/region/service/aws4_request
		if parts := strings.Split(strings.TrimSpace(cred), "/"); len(parts) == 5 {
			caller, service = parts[0], parts[3]
		}
	}
	return caller, service + ":" + operationOf(r)
}

func operationOf(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndex(t, "."); i >= 0 {
			return t[i+1:]
		}
		return t
	}
	if _, op, ok := strings.Cut(r.URL.Path, "/operation/"); ok && op != "" {
		return op
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		if err == nil {
			if v, err := url.ParseQuery(string(b)); err == nil && v.Get("Action") != "" {
				return v.Get("Action")
			}
		}
	}
	return "?"
}
