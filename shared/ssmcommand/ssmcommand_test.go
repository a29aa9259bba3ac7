package ssmcommand

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/clock"
)

// stubSSM is an SSM whose invocations are listed only after `polls` looks at their command
// (and InvocationDoesNotExist before as many GetCommandInvocation calls) and then succeed,
// listed in pages of 20; instances named "bad-…" are unmanaged.
type stubSSM struct {
	mu       sync.Mutex
	sends    [][]string
	gets     map[string]int
	lists    map[string]int // ListCommandInvocations calls by command
	polls    int
	takes    time.Duration // invocations stay InProgress for this long after their send
	sentAt   []time.Time
	never    bool            // invocations stay InProgress
	long     bool            // outputs are longer than ListCommandInvocations shows
	commands []types.Command // what ListCommands lists; nil: the commands sent, with their status
	docs     []string        // the document of each send
	listings int             // ListCommands calls
	stuck    map[string]bool // instances whose invocation never ends
	clock    clock.Clock     // the stub's time; nil: real time
}

func (s *stubSSM) now() time.Time { return clock.OrReal(s.clock).Now() }

// done reports whether the invocations of the nth command sent (from 1) have ended.
func (s *stubSSM) done(n int) bool { return !s.never && s.now().Sub(s.sentAt[n-1]) >= s.takes }

// ended reports whether the invocation of the nth command sent on instance id has ended.
func (s *stubSSM) ended(n int, id string) bool { return s.done(n) && !s.stuck[id] }

func (s *stubSSM) output(id string) string {
	out := "out " + id
	if s.long {
		out += strings.Repeat(".", 3000)
	}
	return out
}

func (s *stubSSM) ListCommandInvocations(_ context.Context, in *ssm.ListCommandInvocationsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandInvocationsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !in.Details || aws.ToInt32(in.MaxResults) > 50 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameters", Message: "details/max results"}
	}
	cmd := aws.ToString(in.CommandId)
	if s.lists == nil {
		s.lists = map[string]int{}
	}
	start := 0
	if in.NextToken == nil {
		s.lists[cmd]++
	} else if _, err := fmt.Sscan(*in.NextToken, &start); err != nil {
		return nil, &smithy.GenericAPIError{Code: "InvalidNextToken", Message: err.Error()}
	}
	var n int
	if _, err := fmt.Sscanf(cmd, "cmd-%d", &n); err != nil || n < 1 || n > len(s.sends) {
		return nil, &types.InvalidCommandId{}
	}
	out := &ssm.ListCommandInvocationsOutput{}
	if s.lists[cmd] <= s.polls {
		return out, nil
	}
	ids := s.sends[n-1]
	end := min(start+20, len(ids))
	for _, id := range ids[start:end] {
		inv := types.CommandInvocation{InstanceId: aws.String(id), Status: types.CommandInvocationStatusInProgress}
		if s.ended(n, id) {
			output := s.output(id)
			inv = types.CommandInvocation{InstanceId: aws.String(id), Status: types.CommandInvocationStatusSuccess, StatusDetails: aws.String("Success"),
				CommandPlugins: []types.CommandPlugin{{Output: aws.String(output[:min(len(output), 2500)]), ResponseCode: 0}}}
		}
		out.CommandInvocations = append(out.CommandInvocations, inv)
	}
	if end < len(ids) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (s *stubSSM) SendCommand(_ context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(in.InstanceIds) > 50 {
		return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "at most 50"}
	}
	if aws.ToString(in.DocumentVersion) != "$DEFAULT" || aws.ToInt32(in.TimeoutSeconds) < 30 {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameters", Message: "version/timeout"}
	}
	s.sends = append(s.sends, in.InstanceIds)
	s.sentAt = append(s.sentAt, s.now())
	s.docs = append(s.docs, aws.ToString(in.DocumentName))
	for _, id := range in.InstanceIds {
		if strings.HasPrefix(id, "bad-") {
			return nil, &types.InvalidInstanceId{Message: aws.String(id)}
		}
	}
	id := fmt.Sprintf("cmd-%d", len(s.sends))
	return &ssm.SendCommandOutput{Command: &types.Command{CommandId: aws.String(id), RequestedDateTime: aws.Time(s.now())}}, nil
}

func (s *stubSSM) GetCommandInvocation(_ context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gets == nil {
		s.gets = map[string]int{}
	}
	key := aws.ToString(in.CommandId) + "/" + aws.ToString(in.InstanceId)
	s.gets[key]++
	if s.gets[key] <= s.polls {
		return nil, &types.InvocationDoesNotExist{}
	}
	if s.never {
		return &ssm.GetCommandInvocationOutput{Status: types.CommandInvocationStatusInProgress}, nil
	}
	return &ssm.GetCommandInvocationOutput{
		Status: types.CommandInvocationStatusSuccess, StatusDetails: aws.String("Success"),
		StandardOutputContent: aws.String(s.output(aws.ToString(in.InstanceId))),
	}, nil
}

func (s *stubSSM) ListCommands(_ context.Context, in *ssm.ListCommandsInput, _ ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listings++
	if s.commands == nil {
		return s.listSent(in)
	}
	// Two pages: the first holds the first command, the second the rest.
	if in.NextToken == nil && len(s.commands) > 1 {
		return &ssm.ListCommandsOutput{Commands: s.commands[:1], NextToken: aws.String("2")}, nil
	}
	if in.NextToken == nil {
		return &ssm.ListCommandsOutput{Commands: s.commands}, nil
	}
	return &ssm.ListCommandsOutput{Commands: s.commands[1:]}, nil
}

// listSent lists the commands sent of the filter's document, requested at or after its
// InvokedAfter, newest first, in pages of 2, each Success once done and InProgress before.
func (s *stubSSM) listSent(in *ssm.ListCommandsInput) (*ssm.ListCommandsOutput, error) {
	var doc string
	var after time.Time
	for _, f := range in.Filters {
		switch f.Key {
		case types.CommandFilterKeyDocumentName:
			doc = aws.ToString(f.Value)
		case types.CommandFilterKeyInvokedAfter:
			t, err := time.Parse(time.RFC3339, aws.ToString(f.Value))
			if err != nil {
				return nil, &types.InvalidFilterValue{Message: aws.String(err.Error())}
			}
			after = t
		}
	}
	var all []types.Command
	for n := len(s.sends); n >= 1; n-- {
		if s.docs[n-1] != doc || s.sentAt[n-1].Before(after) {
			continue
		}
		c := types.Command{CommandId: aws.String(fmt.Sprintf("cmd-%d", n)), Status: types.CommandStatusInProgress, TargetCount: int32(len(s.sends[n-1]))}
		for _, id := range s.sends[n-1] {
			if s.ended(n, id) {
				c.CompletedCount++
			}
		}
		if c.CompletedCount == c.TargetCount {
			c.Status = types.CommandStatusSuccess
		}
		all = append(all, c)
	}
	start := 0
	if in.NextToken != nil {
		if _, err := fmt.Sscan(*in.NextToken, &start); err != nil {
			return nil, &smithy.GenericAPIError{Code: "InvalidNextToken", Message: err.Error()}
		}
	}
	end := min(start+2, len(all))
	out := &ssm.ListCommandsOutput{Commands: all[start:end]}
	if end < len(all) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (s *stubSSM) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	out := &ssm.DescribeInstanceInformationOutput{}
	for _, id := range in.Filters[0].Values {
		if strings.HasPrefix(id, "bad-") {
			return nil, &types.InvalidInstanceId{}
		}
		status := types.PingStatusOnline
		if strings.HasPrefix(id, "off-") {
			status = types.PingStatusConnectionLost
		}
		out.InstanceInformationList = append(out.InstanceInformationList, types.InstanceInformation{InstanceId: aws.String(id), PingStatus: status})
	}
	return out, nil
}

func ids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}

func TestRunSendsInFiftiesAndLooksOncePerCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{polls: 2}
		start := time.Now()
		got, err := newClient(s).Run(t.Context(), "check", append(ids("i-", 120), "i-000"), Options{PollInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.sends) != 3 || len(s.sends[0]) != 50 || len(s.sends[2]) != 20 {
			t.Errorf("SendCommand batches = %d, want 50+50+20 distinct IDs", len(s.sends))
		}
		if len(got) != 120 {
			t.Errorf("Run() returned %d results, want 120", len(got))
		}
		if r := got["i-007"]; !r.OK() || r.Stdout != "out i-007" || r.CommandID != "cmd-1" {
			t.Errorf("Run()[i-007] = %+v, want Success with its output", r)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("Run() took %v, want 3 polls of 1s", waited)
		}
		if want := map[string]int{"cmd-1": 3, "cmd-2": 3, "cmd-3": 3}; !maps.Equal(s.lists, want) || len(s.gets) != 0 {
			t.Errorf("ListCommandInvocations walks = %v and GetCommandInvocation calls = %v, want %v and none", s.lists, s.gets, want)
		}
	})
}

// Many commands wait together (a scan of thousands of instances): each look lists them with
// ListCommands, 50 to a page, and walks the invocations of a command only once it has ended;
// a command the listing does not show is walked as before.
func TestRunWalksTheInvocationsOfACommandOnceItEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{takes: 10 * time.Second}
		got, err := newClient(s).Run(t.Context(), "check", ids("i-", 300), Options{PollInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 300 || !got["i-299"].OK() {
			t.Errorf("Run() = %d results, i-299 %+v; want 300, each Success", len(got), got["i-299"])
		}
		// Looks every second from 1 s to 10 s: 10 listings of the 6 commands (3 pages of 2 each).
		want := map[string]int{"cmd-1": 1, "cmd-2": 1, "cmd-3": 1, "cmd-4": 1, "cmd-5": 1, "cmd-6": 1}
		if !maps.Equal(s.lists, want) || s.listings != 30 {
			t.Errorf("ListCommandInvocations walks = %v and ListCommands calls = %d, want %v and 30 (instead of 60 walks)", s.lists, s.listings, want)
		}

		// Commands the listing does not show (another document's filter, a listing that lags)
		// are walked at every look.
		s = &stubSSM{takes: 3 * time.Second, commands: []types.Command{}}
		if _, err := newClient(s).Run(t.Context(), "check", ids("i-", 100), Options{PollInterval: time.Second}); err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"cmd-1": 3, "cmd-2": 3}; !maps.Equal(s.lists, want) {
			t.Errorf("ListCommandInvocations walks without a listing = %v, want %v", s.lists, want)
		}
	})
}

// An instance that never answers keeps its command running as a whole: at the end of the wait,
// Run still reads the results of the others of its command, and only that instance times out.
func TestRunKeepsTheResultsBesideAnInstanceThatNeverAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{stuck: map[string]bool{"i-000": true, "i-050": true}}
		got, err := newClient(s).Run(t.Context(), "check", ids("i-", 150), Options{PollInterval: time.Second, Wait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var failed []string
		for id, r := range got {
			if !r.OK() {
				failed = append(failed, id)
				if !errors.Is(r.Err, ErrWaitTimeout) {
					t.Errorf("Run()[%s] = %+v, want ErrWaitTimeout", id, r)
				}
			}
		}
		slices.Sort(failed)
		if diff := cmp.Diff([]string{"i-000", "i-050"}, failed); diff != "" {
			t.Errorf("instances without a result (-want +got):\n%s", diff)
		}
	})
}

// The first look comes when the command is expected to be done; a slower command costs a few
// looks more at doubling gaps, not one per poll interval.
func TestRunLooksWhenTheCommandIsExpectedToBeDone(t *testing.T) {
	tests := []struct {
		name      string
		takes     time.Duration
		opts      Options
		wantLooks int
		wantTook  time.Duration
	}{
		{"done when expected: one look", 60 * time.Second, Options{Expected: 60 * time.Second, PollInterval: 2 * time.Second}, 1, 60 * time.Second},
		// Looks at 60, 62, 66, 74, 89 s: the gaps double from 2 s up to 15 s (a quarter of 60 s).
		{"a quarter slower: four looks more", 75 * time.Second, Options{Expected: 60 * time.Second, PollInterval: 2 * time.Second}, 5, 89 * time.Second},
		{"no expectation: every poll interval", 6 * time.Second, Options{PollInterval: 2 * time.Second}, 3, 6 * time.Second},
		{"quick command: the first look at its expected end", 3 * time.Second, Options{Expected: 3 * time.Second, PollInterval: 2 * time.Second}, 1, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &stubSSM{takes: tt.takes}
				start := time.Now()
				got, err := newClient(s).Run(t.Context(), "apply", ids("i-", 30), tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if r := got["i-007"]; !r.OK() {
					t.Errorf("Run()[i-007] = %+v, want Success", r)
				}
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("Run() took %v, want %v", took, tt.wantTook)
				}
				if looks := s.lists["cmd-1"]; looks != tt.wantLooks {
					t.Errorf("ListCommandInvocations walks = %d, want %d", looks, tt.wantLooks)
				}
			})
		})
	}
}

func TestRunReadsAnOutputSSMCutShortWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{long: true}
		got, err := newClient(s).Run(t.Context(), "check", []string{"i-1", "i-2"}, Options{PollInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if r := got["i-1"]; !r.OK() || r.Stdout != s.output("i-1") {
			t.Errorf("Run()[i-1] = %d characters of output, want all %d", len(r.Stdout), len(s.output("i-1")))
		}
		if len(s.gets) != 2 {
			t.Errorf("GetCommandInvocation calls = %v, want one per cut output", s.gets)
		}
	})
}

func TestInvocationFromSplitsStderr(t *testing.T) {
	inv := types.CommandInvocation{Status: types.CommandInvocationStatusFailed, StatusDetails: aws.String("Failed"),
		CommandPlugins: []types.CommandPlugin{{ResponseCode: 2, Output: aws.String("partial\n----------ERROR-------\nboom")}}}
	got := invocationFrom("cmd-1", inv)
	want := invocation{Result: Result{CommandID: "cmd-1", Status: StatusFailed, ResponseCode: 2, Stdout: "partial", Stderr: "boom"}}
	if got != want {
		t.Errorf("invocationFrom() = %+v, want %+v", got, want)
	}
}

func TestRunIsolatesUnmanagedInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{}
		got, err := newClient(s).Run(t.Context(), "check", []string{"i-1", "bad-2", "i-3"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !got["i-1"].OK() || !got["i-3"].OK() {
			t.Errorf("Run() = %+v, want i-1 and i-3 to succeed", got)
		}
		if r := got["bad-2"]; !errors.Is(r.Err, ErrInvalidInstance) {
			t.Errorf("Run()[bad-2] = %+v, want ErrInvalidInstance", r)
		}
		if _, err := newClient(s).Run(t.Context(), "check", []string{"bad-1"}, Options{}); !errors.Is(err, ErrInvalidInstance) {
			t.Errorf("Run(only unmanaged) error = %v, want ErrInvalidInstance", err)
		}
	})
}

func TestRunStopsAtTheWaitAndAtCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &stubSSM{never: true}
		got, err := newClient(s).Run(t.Context(), "apply", []string{"i-1"}, Options{Wait: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if r := got["i-1"]; !errors.Is(r.Err, ErrWaitTimeout) || r.Status != StatusInProgress {
			t.Errorf("Run()[i-1] = %+v, want InProgress with ErrWaitTimeout", r)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := newClient(s).Run(ctx, "apply", []string{"i-1"}, Options{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run(ctx ends) error = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestSentMatchesDocumentAndCommentOnEveryPage(t *testing.T) {
	s := &stubSSM{commands: []types.Command{
		{CommandId: aws.String("c-a"), DocumentName: aws.String("reboot"), Comment: aws.String("rollwave job A")},
		{CommandId: aws.String("c-b"), DocumentName: aws.String("reboot"), Comment: aws.String("rollwave job B")},
	}}
	c := newClient(s)
	for _, tt := range []struct {
		comment string
		want    string
	}{{"rollwave job A", "c-a"}, {"rollwave job B", "c-b"}, {"rollwave job C", ""}} {
		if got, err := c.Sent(t.Context(), "i-1", "reboot", tt.comment); got != tt.want || err != nil {
			t.Errorf("Sent(%q) = %q, %v; want %q, nil", tt.comment, got, err, tt.want)
		}
	}
}

func TestOnline(t *testing.T) {
	got, err := newClient(&stubSSM{}).Online(t.Context(), []string{"i-1", "off-2", "bad-3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"i-1": true, "off-2": false, "bad-3": false}
	if !maps.Equal(got, want) {
		t.Errorf("Online() = %v, want %v", got, want)
	}
}

func TestStatusOfPrefersTerminalDetail(t *testing.T) {
	tests := []struct {
		status  types.CommandInvocationStatus
		details string
		want    Status
	}{
		{types.CommandInvocationStatusTimedOut, "DeliveryTimedOut", StatusDeliveryTimedOut},
		{types.CommandInvocationStatusTimedOut, "ExecutionTimedOut", StatusExecutionTimedOut},
		{types.CommandInvocationStatusFailed, "Undeliverable", StatusUndeliverable},
		{types.CommandInvocationStatusSuccess, "Success", StatusSuccess},
		{types.CommandInvocationStatusInProgress, "InProgress", StatusInProgress},
	}
	for _, tt := range tests {
		if got := statusOf(tt.status, aws.String(tt.details)); got != tt.want {
			t.Errorf("statusOf(%s, %s) = %s, want %s", tt.status, tt.details, got, tt.want)
		}
	}
	if !slices.ContainsFunc([]Status{StatusUndeliverable}, Status.Terminal) {
		t.Error("Undeliverable is not terminal")
	}
}

func TestClassify(t *testing.T) {
	if err := classify(&types.InvalidInstanceId{}); !errors.Is(err, ErrInvalidInstance) || IsTransient(err) {
		t.Errorf("classify(InvalidInstanceId) = %v, want ErrInvalidInstance only", err)
	}
	if err := classify(&smithy.GenericAPIError{Code: "ThrottlingException"}); !errors.Is(err, ErrThrottled) || !IsTransient(err) {
		t.Errorf("classify(ThrottlingException) = %v, want throttled and transient", err)
	}
	if err := classify(&types.InternalServerError{}); !IsTransient(err) {
		t.Errorf("classify(InternalServerError) = %v, want transient", err)
	}
	if err := classify(&types.InvalidDocument{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("classify(InvalidDocument) = %v, want ErrInvalid", err)
	}
}

// TestLatest reads each instance's newest successful invocation of a document from the command
// history, the newest command first, without sending anything; an output that listing cuts
// short is read whole.
func TestLatest(t *testing.T) {
	t1, t2 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)
	for _, long := range []bool{false, true} {
		t.Run(fmt.Sprintf("long=%v", long), func(t *testing.T) {
			s := &stubSSM{
				long:   long,
				sends:  [][]string{{"i-a", "i-b"}, {"i-a"}},
				sentAt: []time.Time{t1, t2},
				commands: []types.Command{
					{CommandId: aws.String("cmd-2"), DocumentName: aws.String("rw-check"), InstanceIds: []string{"i-a"}, RequestedDateTime: aws.Time(t2)},
					{CommandId: aws.String("cmd-1"), DocumentName: aws.String("rw-check"), InstanceIds: []string{"i-a", "i-b"}, RequestedDateTime: aws.Time(t1)},
				},
			}
			got, err := newClient(s).Latest(t.Context(), "rw-check", []string{"i-a", "i-b", "i-c"})
			if err != nil {
				t.Fatalf("Latest = %v", err)
			}
			type seen struct {
				Command string
				At      time.Time
				Stdout  string
			}
			view := map[string]seen{}
			for id, p := range got {
				view[id] = seen{p.CommandID, p.RequestedAt, p.Stdout}
			}
			want := map[string]seen{
				"i-a": {"cmd-2", t2, s.output("i-a")},
				"i-b": {"cmd-1", t1, s.output("i-b")},
			}
			if diff := cmp.Diff(want, view); diff != "" {
				t.Errorf("Latest(i-a, i-b, i-c) (-want +got):\n%s", diff)
			}
			if len(s.sends) != 2 {
				t.Errorf("Latest sent %d commands, want none", len(s.sends)-2)
			}
		})
	}
}

// TestNextLookFollowsRunsSchedule: a caller that looks at a command itself, each time its message
// comes back, looks when Run would have: first once the expected duration has passed, then at
// gaps that double from the poll interval up to a quarter of the expected duration.
func TestNextLookFollowsRunsSchedule(t *testing.T) {
	o := Options{Expected: time.Minute, PollInterval: 2 * time.Second} // looks at 60, 62, 66, 74, 89, 104 … s
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{0, 60 * time.Second},
		{59 * time.Second, time.Second},
		{60 * time.Second, 2 * time.Second},
		{70 * time.Second, 4 * time.Second},
		{74 * time.Second, 15 * time.Second},
		{100 * time.Second, 4 * time.Second},
		{1000 * time.Second, 4 * time.Second}, // 89 + 61 × 15 = 1004
	} {
		if got := o.NextLook(tc.elapsed); got != tc.want {
			t.Errorf("NextLook(%s) = %s, want %s", tc.elapsed, got, tc.want)
		}
	}
	if got := (Options{PollInterval: 3 * time.Second}).NextLook(time.Second); got != 2*time.Second {
		t.Errorf("without Expected, NextLook(1s) = %s, want 2s: the first look after one poll interval", got)
	}
}
