// Package awsapi serves the AWS wire protocols fleetsim simulates over the world: ECS and SSM
// (awsJson1_1, operation in X-Amz-Target) and EC2 (query protocol, XML answers), with AWS's
// error shapes so that the SDK's typed errors work, paging tokens, call counting and API faults.
package awsapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

// Handler serves the AWS APIs.
type Handler struct {
	world *sim.World
	log   zerolog.Logger
	ecs   map[string]op
	ssm   map[string]op
	// ec2Forward serves the EC2 actions fleetsim does not simulate (nil: they are refused).
	ec2Forward http.Handler
}

type op func(ctx context.Context, body []byte) (any, error)

// New returns the AWS API handler over w. With forward set, the EC2 actions fleetsim does not
// simulate (launch templates, for one) are passed to that endpoint, an emulator such as moto,
// unchanged: a client with one EC2 endpoint then reaches both the simulated hosts and the
// emulator's resources, as it reaches both in one AWS account.
func New(w *sim.World, log zerolog.Logger, forward *url.URL) *Handler {
	h := &Handler{world: w, log: log}
	h.ecs = h.ecsOps()
	h.ssm = h.ssmOps()
	if forward != nil {
		h.ec2Forward = httputil.NewSingleHostReverseProxy(forward)
	}
	return h
}

const (
	ecsPrefix = "AmazonEC2ContainerServiceV20141113."
	ssmPrefix = "AmazonSSM."
)

// ServeHTTP dispatches one AWS call.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(rw, "read body", http.StatusBadRequest)
		return
	}
	caller := accessKey(r.Header.Get("Authorization"))
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, ecsPrefix):
		h.serveJSON(rw, r, "ecs", strings.TrimPrefix(target, ecsPrefix), h.ecs, body, caller)
	case strings.HasPrefix(target, ssmPrefix):
		h.serveJSON(rw, r, "ssm", strings.TrimPrefix(target, ssmPrefix), h.ssm, body, caller)
	case r.Method == http.MethodPost || r.URL.Query().Get("Action") != "":
		r.Body = io.NopCloser(bytes.NewReader(body)) // for a forwarded call
		h.serveEC2(rw, r, body, caller)
	default:
		http.Error(rw, "fleetsim: unknown request (no X-Amz-Target, no Action)", http.StatusBadRequest)
	}
}

// encoded is an answer already encoded as JSON: serveJSON writes it as it is.
type encoded []byte

// encodedList is the answer {"<listKey>":[items...],"<key>":<v>} with items already JSON, which
// json.Marshal would scan and copy again.
func encodedList(listKey string, items []json.RawMessage, key string, v any) (encoded, error) {
	rest, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	n := len(listKey) + len(key) + len(rest) + 16
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"`...)
	b = append(b, listKey...)
	b = append(b, `":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = append(b, rest...)
	return append(b, '}'), nil
}

// accessKey extracts the access key ID from a SigV4 Authorization header.
func accessKey(auth string) string {
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	rest := auth[i+len("Credential="):]
	if j := strings.IndexAny(rest, "/, "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// fault applies the API faults for op: it waits out the latency on the world's clock (virtual)
// and reports whether the call is throttled or fails with a 5xx.
func (h *Handler) fault(ctx context.Context, op string) (throttle, fail bool, err error) {
	throttle, fail, latency := h.world.APIFaultFor(op)
	if latency > 0 {
		if err := h.world.Clock().Sleep(ctx, latency.D()); err != nil {
			return false, false, err
		}
	}
	return throttle, fail, nil
}

func (h *Handler) serveJSON(rw http.ResponseWriter, r *http.Request, service, name string, ops map[string]op, body []byte, caller string) {
	opName := service + ":" + name
	h.world.CountCall(opName, caller)
	rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
	rw.Header().Set("X-Amzn-RequestId", requestID())
	throttle, fail, err := h.fault(r.Context(), opName)
	if err != nil {
		return
	}
	switch {
	case throttle:
		writeJSONError(rw, &sim.APIError{Code: "ThrottlingException", Message: "Rate exceeded"})
		return
	case fail:
		code := "ServerException"
		if service == "ssm" {
			code = "InternalServerError"
		}
		writeJSONError(rw, &sim.APIError{Code: code, Message: "fleetsim: injected server error", Status: http.StatusInternalServerError})
		return
	}
	fn := ops[name]
	if fn == nil {
		writeJSONError(rw, &sim.APIError{Code: "UnknownOperationException", Message: "fleetsim does not simulate " + opName})
		return
	}
	out, err := fn(r.Context(), body)
	if err != nil {
		writeJSONError(rw, err)
		return
	}
	if b, ok := out.(encoded); ok {
		h.log.Debug().Str("op", opName).Str("caller", caller).Msg("api call")
		_, _ = rw.Write(b)
		return
	}
	if m, ok := out.(map[string]any); ok {
		for k, v := range m {
			if p, isStr := v.(*string); isStr && p == nil {
				delete(m, k)
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeJSONError(rw, &sim.APIError{Code: "InternalFailure", Message: err.Error(), Status: 500})
		return
	}
	h.log.Debug().Str("op", opName).Str("caller", caller).Msg("api call")
	_, _ = rw.Write(b)
}

func writeJSONError(rw http.ResponseWriter, err error) {
	var ae *sim.APIError
	if !errors.As(err, &ae) {
		ae = &sim.APIError{Code: "InternalFailure", Message: err.Error(), Status: 500}
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	rw.Header().Set("X-Amzn-ErrorType", ae.Code)
	rw.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": ae.Code, "message": ae.Message, "Message": ae.Message})
	_, _ = rw.Write(b)
}

var reqSeq atomic.Int64

func requestID() string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().Unix()&0xffffffff, reqSeq.Add(1))
}

// decode wraps an operation whose input is the JSON type I.
func decode[I any](fn func(ctx context.Context, in I) (any, error)) op {
	return func(ctx context.Context, body []byte) (any, error) {
		var in I
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, &sim.APIError{Code: "SerializationException", Message: err.Error()}
			}
		}
		return fn(ctx, in)
	}
}

// page returns the items of one page and the token of the next. max is the requested page
// size (0 for def), valid within [lo, hi]; tokens are opaque offsets.
func page[T any](items []T, token string, max, def, lo, hi int, invalid func(string) error) ([]T, *string, error) {
	if max == 0 {
		max = def
	}
	if max < lo || max > hi {
		return nil, nil, invalid(fmt.Sprintf("maxResults must be between %d and %d", lo, hi))
	}
	off := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "fleetsim:"))
		if err != nil || err2 != nil || n < 0 || n > len(items) || !strings.HasPrefix(string(b), "fleetsim:") {
			return nil, nil, invalid("Invalid nextToken")
		}
		off = n
	}
	end := min(off+max, len(items))
	var next *string
	if end < len(items) {
		t := base64.RawURLEncoding.EncodeToString([]byte("fleetsim:" + strconv.Itoa(end)))
		next = &t
	}
	out := items[off:end]
	if out == nil {
		out = []T{}
	}
	return out, next, nil
}
