package metrics

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/rs/zerolog"

	"github.com/rollwave/rollwave/shared/clock"
)

// PutMetricData limits the Publisher respects.
const (
	// MaxDatums is the most metric datums PutMetricData takes in one request.
	MaxDatums = 1000
	// maxPending bounds the memory of a Publisher whose sends keep failing: beyond it, new
	// metric streams are dropped until the next flush (and counted in the log).
	maxPending = 20 * MaxDatums
	// finalFlushTimeout bounds the last flush when the Publisher stops.
	finalFlushTimeout = 5 * time.Second
)

// DefaultInterval is how often a Publisher sends: CloudWatch's standard resolution is a minute.
const DefaultInterval = time.Minute

// PutAPI is the part of *cloudwatch.Client the Publisher uses.
type PutAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// NewClient returns a CloudWatch client that speaks AWS JSON 1.0 rather than the SDK's default
// Smithy RPC v2 CBOR: CloudWatch accepts both, moto (the emulator the tests run against) only
// JSON and Query. docs/decisions/cloudwatch-metrics.md says why this and not a pinned client or
// the Embedded Metric Format.
func NewClient(cfg aws.Config, optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, append([]func(*cloudwatch.Options){func(o *cloudwatch.Options) {
		o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801)
	}}, optFns...)...)
}

// stat is the statistic set of one metric stream since the last flush.
type stat struct {
	d                   Datum // name, dimensions, unit, and the time of the first observation
	n                   int
	sum, minimum, maxim float64
}

// Publisher buffers observations and sends them to CloudWatch. Create it with NewPublisher and
// run it with Run; Record may be called before, during and after Run.
type Publisher struct {
	// Clock times the sends and stamps a datum recorded without a time; nil is clock.Real. Set
	// it before Run.
	Clock clock.Clock

	api       PutAPI
	namespace string
	interval  time.Duration
	log       zerolog.Logger

	mu      sync.Mutex
	pending map[string]*stat
	dropped int
	full    chan struct{}
}

// NewPublisher returns a Publisher that sends to namespace through api every interval
// (DefaultInterval when not positive), logging failed sends to log.
func NewPublisher(api PutAPI, namespace string, interval time.Duration, log zerolog.Logger) *Publisher {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Publisher{
		api: api, namespace: namespace, interval: interval, log: log,
		pending: map[string]*stat{}, full: make(chan struct{}, 1),
	}
}

// Record adds observations to the current statistic sets.
func (p *Publisher) Record(ds ...Datum) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range ds {
		k := d.key()
		s, ok := p.pending[k]
		if !ok {
			if len(p.pending) >= maxPending {
				p.dropped++
				continue
			}
			s = &stat{d: d, minimum: d.Value, maxim: d.Value}
			p.pending[k] = s
		}
		s.n++
		s.sum += d.Value
		s.minimum = min(s.minimum, d.Value)
		s.maxim = max(s.maxim, d.Value)
	}
	if len(p.pending) >= MaxDatums {
		select {
		case p.full <- struct{}{}:
		default:
		}
	}
}

// Run sends every interval, and as soon as MaxDatums metric streams are pending, until ctx is
// cancelled; then it sends what is left (bounded by a few seconds) and returns. Errors are logged.
func (p *Publisher) Run(ctx context.Context) {
	t := clock.OrReal(p.Clock).NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			defer cancel()
			p.logFlush(p.Flush(fctx))
			return
		case <-t.C():
		case <-p.full:
		}
		// A flush is not cut short by the shutdown: what it took from pending would be lost, and
		// the final flush would find nothing to send.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
		p.logFlush(p.Flush(fctx))
		cancel()
	}
}

func (p *Publisher) logFlush(err error) {
	if err != nil {
		p.log.Warn().Err(err).Msg("metrics not sent")
	}
}

// Flush sends every pending statistic set now, at most MaxDatums per request. What a failed
// request carried is dropped: metrics are best effort, and the SDK has retried already.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	pending, dropped := p.pending, p.dropped
	p.pending, p.dropped = map[string]*stat{}, 0
	p.mu.Unlock()
	if dropped > 0 {
		p.log.Warn().Int("dropped", dropped).Msg("too many metric streams pending: observations dropped")
	}
	now := clock.OrReal(p.Clock).Now()
	data := make([]types.MetricDatum, 0, len(pending))
	for _, k := range slices.Sorted(maps.Keys(pending)) {
		data = append(data, pending[k].datum(now))
	}
	var errs int
	var last error
	for chunk := range slices.Chunk(data, MaxDatums) {
		if _, err := p.api.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(p.namespace), MetricData: chunk,
		}); err != nil {
			errs += len(chunk)
			last = err
		}
	}
	if last != nil {
		return fmt.Errorf("put %d of %d metric data: %w", errs, len(data), last)
	}
	return nil
}

// datum is s as CloudWatch takes it, at now when it was recorded without a time.
func (s *stat) datum(now time.Time) types.MetricDatum {
	dims := make([]types.Dimension, 0, len(s.d.Dimensions))
	for _, k := range slices.Sorted(maps.Keys(s.d.Dimensions)) {
		dims = append(dims, types.Dimension{Name: aws.String(k), Value: aws.String(s.d.Dimensions[k])})
	}
	at := s.d.At
	if at.IsZero() {
		at = now
	}
	return types.MetricDatum{
		MetricName: aws.String(s.d.Name),
		Dimensions: dims,
		Timestamp:  aws.Time(at),
		Unit:       types.StandardUnit(s.d.Unit),
		StatisticValues: &types.StatisticSet{
			SampleCount: aws.Float64(float64(s.n)),
			Sum:         aws.Float64(s.sum),
			Minimum:     aws.Float64(s.minimum),
			Maximum:     aws.Float64(s.maxim),
		},
	}
}
