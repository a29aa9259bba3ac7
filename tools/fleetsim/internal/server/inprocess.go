package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// InProcess is an http.RoundTripper that serves each request with Handler in the caller's
// goroutine: no socket, no connection, and no goroutine or timer of its own, so that a process
// that runs fleetsim on a virtual clock waits on nothing but the world. The request's host is
// not looked at: any endpoint reaches Handler.
type InProcess struct{ Handler http.Handler }

// RoundTrip serves req and returns the whole response, read from memory.
func (p InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	defer r.Body.Close()
	r.RequestURI = r.URL.RequestURI()
	w := &recorder{header: http.Header{}}
	p.Handler.ServeHTTP(w, r)
	w.WriteHeader(http.StatusOK) // when the handler wrote nothing
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode: w.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        w.sent,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the http.ResponseWriter of one in-process request.
type recorder struct {
	header http.Header
	sent   http.Header // header as it was when the status was written
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	w.sent = w.header.Clone()
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
