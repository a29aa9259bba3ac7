// Package metricstest holds in-memory fakes of the metrics package's seams: a Recorder that keeps
// every observation, and a CloudWatch PutMetricData API that keeps every request.
package metricstest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/rollwave/rollwave/shared/metrics"
)

// Recorder keeps every observation, for handler tests.
type Recorder struct {
	mu sync.Mutex
	ds []metrics.Datum
}

var _ metrics.Recorder = (*Recorder)(nil)

// Record keeps ds.
func (r *Recorder) Record(ds ...metrics.Datum) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, ds...)
}

// Data returns every observation so far, in order.
func (r *Recorder) Data() []metrics.Datum {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ds)
}

// Named returns the observations of one metric whose dimensions include dims.
func (r *Recorder) Named(name string, dims map[string]string) []metrics.Datum {
	var out []metrics.Datum
	for _, d := range r.Data() {
		if d.Name != name {
			continue
		}
		match := true
		for k, v := range dims {
			if d.Dimensions[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, d)
		}
	}
	return out
}

// Sum is the sum of the values of Named(name, dims).
func (r *Recorder) Sum(name string, dims map[string]string) float64 {
	var s float64
	for _, d := range r.Named(name, dims) {
		s += d.Value
	}
	return s
}

// Names returns the metric names recorded, sorted, each once.
func (r *Recorder) Names() []string {
	set := map[string]bool{}
	for _, d := range r.Data() {
		set[d.Name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// API is a fake CloudWatch PutMetricData: it keeps every request and fails the next calls when
// told to.
type API struct {
	mu       sync.Mutex
	requests []*cloudwatch.PutMetricDataInput
	failNext []error
}

var _ metrics.PutAPI = (*API)(nil)

// FailNext makes the next len(errs) calls return errs in order.
func (a *API) FailNext(errs ...error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext = append(a.failNext, errs...)
}

// PutMetricData keeps in, or fails as told.
func (a *API) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.failNext) > 0 {
		err := a.failNext[0]
		a.failNext = a.failNext[1:]
		return nil, err
	}
	a.requests = append(a.requests, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// Requests returns the requests that succeeded, in order.
func (a *API) Requests() []*cloudwatch.PutMetricDataInput {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}
