package notify_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/notify"
	"github.com/rollwave/rollwave/shared/pause"
	"github.com/rollwave/rollwave/shared/update"
)

// detailTypes maps every documented detail type to its Go detail.
var detailTypes = map[string]func() any{
	notify.InstanceUpdateStarted:    func() any { return &notify.JobDetail{} },
	notify.InstanceUpdateSucceeded:  func() any { return &notify.JobDetail{} },
	notify.InstanceUpdateFailed:     func() any { return &notify.JobDetail{} },
	notify.InstanceUpdateSkipped:    func() any { return &notify.JobDetail{} },
	notify.InstanceUpdateWaiting:    func() any { return &notify.JobDetail{} },
	notify.InstanceUpdateProgressed: func() any { return &notify.JobDetail{} },
	notify.ClusterRolloutPaused:     func() any { return &pause.EventDetail{} },
	notify.ClusterRolloutResumed:    func() any { return &pause.EventDetail{} },
	notify.ClusterRolloutHalted:     func() any { return &notify.HaltedDetail{} },
	notify.InstanceReclaimed:        func() any { return &notify.ReclaimedDetail{} },
	notify.PromotionHalted:          func() any { return &notify.PromotionHaltedDetail{} },
	notify.LaunchTemplateDrift:      func() any { return &launchtemplate.Finding{} },
}

// jsonBlocks returns the ```json blocks of a Markdown file.
func jsonBlocks(t *testing.T, path string) []string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// jsonFields are the JSON names of the fields of struct v.
func jsonFields(v any) map[string]bool {
	out := map[string]bool{}
	rt := reflect.TypeOf(v).Elem()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}

// TestEventsDocExamplesMatchTheGoTypes keeps docs/events.md honest: every example event is valid
// JSON from source rollwave whose detail decodes into its Go type without unknown fields and
// encodes back to the same JSON; every pattern and transformer names only real fields; every
// detail type and every reason code is documented.
func TestEventsDocExamplesMatchTheGoTypes(t *testing.T) {
	blocks := jsonBlocks(t, "../../docs/events.md")
	documented := map[string]bool{}
	var patterns int
	for i, b := range blocks {
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(b), &top); err != nil {
			t.Errorf("block %d is not a JSON object: %v\n%s", i, err, b)
			continue
		}
		switch {
		case top["version"] != nil: // an event
			var ev struct {
				DetailType string          `json:"detail-type"`
				Source     string          `json:"source"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(b), &ev); err != nil {
				t.Errorf("block %d: %v", i, err)
				continue
			}
			newDetail, ok := detailTypes[ev.DetailType]
			if !ok || ev.Source != notify.Source {
				t.Errorf("block %d: source %q detail-type %q, want source rollwave and a known detail type", i, ev.Source, ev.DetailType)
				continue
			}
			documented[ev.DetailType] = true
			// The publisher adds the deployment to every detail (notify.DeploymentField); the
			// rest is the detail type's own.
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(ev.Detail, &fields); err != nil || fields[notify.DeploymentField] == nil {
				t.Errorf("%s: detail without %q: %s", ev.DetailType, notify.DeploymentField, ev.Detail)
				continue
			}
			delete(fields, notify.DeploymentField)
			ev.Detail, _ = json.Marshal(fields)
			d := newDetail()
			dec := json.NewDecoder(bytes.NewReader(ev.Detail))
			dec.DisallowUnknownFields()
			if err := dec.Decode(d); err != nil {
				t.Errorf("%s: detail does not decode into %T: %v", ev.DetailType, d, err)
				continue
			}
			again, _ := json.Marshal(d)
			var want, got any
			_ = json.Unmarshal(ev.Detail, &want)
			_ = json.Unmarshal(again, &got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: the documented detail is not what %T encodes (-doc +go):\n%s", ev.DetailType, d, diff)
			}
		case top["InputPathsMap"] != nil: // an input transformer
			var tr struct{ InputPathsMap map[string]string }
			if err := json.Unmarshal([]byte(b), &tr); err != nil {
				t.Errorf("block %d: %v", i, err)
			}
			fields := jsonFields(&notify.JobDetail{})
			for _, p := range tr.InputPathsMap {
				if f, ok := strings.CutPrefix(p, "$.detail."); !ok || !fields[f] {
					t.Errorf("transformer path %q names no field of notify.JobDetail", p)
				}
			}
		default: // an event pattern
			patterns++
			var p struct {
				Source     []string                   `json:"source"`
				DetailType []json.RawMessage          `json:"detail-type"`
				Detail     map[string]json.RawMessage `json:"detail"`
			}
			dec := json.NewDecoder(strings.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Errorf("pattern %d: %v\n%s", i, err, b)
				continue
			}
			if !cmp.Equal(p.Source, []string{notify.Source}) {
				t.Errorf("pattern %d: source %v, want [rollwave]", i, p.Source)
			}
			for _, raw := range p.DetailType {
				var s string
				if json.Unmarshal(raw, &s) == nil && detailTypes[s] == nil {
					t.Errorf("pattern %d: detail-type %q is not one of rollwave's", i, s)
				}
			}
			fields := jsonFields(&notify.JobDetail{})
			fields[notify.DeploymentField] = true
			for k := range p.Detail {
				if !fields[k] {
					t.Errorf("pattern %d: detail.%s is not a field of notify.JobDetail", i, k)
				}
			}
		}
	}
	for dt := range detailTypes {
		if !documented[dt] {
			t.Errorf("detail type %q has no example in docs/events.md", dt)
		}
	}
	if patterns < 4 {
		t.Errorf("docs/events.md has %d event patterns, want at least 4 (all, failures, one cluster, Slack)", patterns)
	}
	doc, _ := os.ReadFile("../../docs/events.md")
	for _, c := range []update.Code{update.CodeUpdated, update.CodeNoUpdate, update.CodeStandaloneTask, update.CodeDrainedByOther,
		update.CodeInstanceGone, update.CodeDryRun, update.CodeOptedOut, update.CodeStagingFailed, update.CodeDrainTimeout, update.CodeDrainFailed,
		update.CodeRebootFailed, update.CodeNeverCameBack, update.CodeBootFailedRolledBack, update.CodeUnexpectedVersion,
		update.CodeUnverifiable, update.CodeReactivateFailed, update.CodeJobInFlight} {
		if !strings.Contains(string(doc), "| `"+string(c)+"` |") {
			t.Errorf("reason code %q is not in the table of docs/events.md", c)
		}
	}
	for _, r := range update.WaitReasons {
		if !strings.Contains(string(doc), "| `"+string(r)+"` |") {
			t.Errorf("wait reason %q is not in the table of docs/events.md", r)
		}
	}
}
