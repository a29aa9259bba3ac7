// Package alarm reads the CloudWatch alarms that gate a rollout: the drainer starts no drain while
// one of them is in ALARM. It owns the DescribeAlarms paging and its errors, and caches each
// answer briefly, so that a fleet of held jobs costs one call per refresh, not one per look.
package alarm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// describeAPI is the one CloudWatch operation the watcher calls (*cloudwatch.Client).
type describeAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ describeAPI = (*cloudwatch.Client)(nil)

// Selector names the alarms of a gate: by name, by name prefix, or both. The zero Selector
// selects none: no gate.
type Selector struct {
	Names  []string
	Prefix string
}

// IsZero reports whether s selects no alarm.
func (s Selector) IsZero() bool { return len(s.Names) == 0 && s.Prefix == "" }

// String is s for people: "alarms a, b and those named p*".
func (s Selector) String() string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, strings.Join(s.Names, ", "))
	}
	if s.Prefix != "" {
		parts = append(parts, "those named "+s.Prefix+"*")
	}
	return "alarms " + strings.Join(parts, " and ")
}

// maxNamesPerCall is DescribeAlarms' limit of AlarmNames.
const maxNamesPerCall = 100

// Watcher answers which selected alarms are in ALARM, from answers at most TTL old.
type Watcher struct {
	api describeAPI
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	firing []string
	at     time.Time
}

// New returns a watcher that asks api again once an answer is older than ttl.
func New(api describeAPI, ttl time.Duration, now func() time.Time) *Watcher {
	return &Watcher{api: api, ttl: ttl, now: now, cache: map[string]entry{}}
}

// Firing returns the names of the alarms sel selects that are in state ALARM, sorted; none for
// the zero Selector. An alarm that does not exist is not firing. A failed call is returned as is
// (the caller holds the drain: an unknown state is not "go"), and not cached.
func (w *Watcher) Firing(ctx context.Context, sel Selector) ([]string, error) {
	if sel.IsZero() {
		return nil, nil
	}
	key := strings.Join(sel.Names, "\x00") + "\x01" + sel.Prefix
	now := w.now()
	w.mu.Lock()
	e, ok := w.cache[key]
	w.mu.Unlock()
	if ok && now.Sub(e.at) < w.ttl {
		return e.firing, nil
	}
	var firing []string
	for names := range slices.Chunk(sel.Names, maxNamesPerCall) {
		got, err := w.describe(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
		if err != nil {
			return nil, err
		}
		firing = append(firing, got...)
	}
	if sel.Prefix != "" {
		got, err := w.describe(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(sel.Prefix)})
		if err != nil {
			return nil, err
		}
		firing = append(firing, got...)
	}
	slices.Sort(firing)
	firing = slices.Compact(firing)
	w.mu.Lock()
	w.cache[key] = entry{firing: firing, at: now}
	w.mu.Unlock()
	return firing, nil
}

// describe pages through DescribeAlarms for in and returns the metric and composite alarms in
// state ALARM.
func (w *Watcher) describe(ctx context.Context, in *cloudwatch.DescribeAlarmsInput) ([]string, error) {
	in.StateValue = types.StateValueAlarm
	in.AlarmTypes = []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}
	var out []string
	for {
		page, err := w.api.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		// The state is checked here too: an emulator may apply only one of the filters.
		for _, a := range page.MetricAlarms {
			if a.StateValue == types.StateValueAlarm {
				out = append(out, aws.ToString(a.AlarmName))
			}
		}
		for _, a := range page.CompositeAlarms {
			if a.StateValue == types.StateValueAlarm {
				out = append(out, aws.ToString(a.AlarmName))
			}
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}
