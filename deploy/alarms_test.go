package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rollwave/rollwave/shared/notify"
)

// pipelineAlarmDetails are the pipeline events that need a person, with the Go type of their
// detail: the module sends exactly these to the alarm topic.
var pipelineAlarmDetails = map[string]any{
	notify.InstanceUpdateFailed: notify.JobDetail{},
	notify.ClusterRolloutHalted: notify.HaltedDetail{},
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// transform applies an EventBridge input transformer to an event as EventBridge does for a
// string template: each <name> becomes the value at its JSON path ("$.detail.x"), a string
// inserted without its quotes.
func transform(t *testing.T, paths map[string]string, template string, event []byte) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(event, &doc); err != nil {
		t.Fatal(err)
	}
	out := template
	for name, path := range paths {
		var v any = doc
		for _, part := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		s, ok := v.(string)
		if !ok {
			t.Fatalf("path %s of %s is %v, not a string in the sample event", path, name, v)
		}
		b, _ := json.Marshal(s)
		out = strings.ReplaceAll(out, "<"+name+">", string(b[1:len(b)-1]))
	}
	var msg string
	if err := json.Unmarshal([]byte(out), &msg); err != nil {
		t.Fatalf("the transformed input %s is not a JSON string: %v", out, err)
	}
	return msg
}

// TestTerraformPipelineAlarms checks the rules that send rollwave's pipeline events to the alarm
// topic: they match exactly the events of notify with the source notify publishes, their input
// transformers read fields the events carry and use every one, and the message a person gets
// from a sample event names the cluster, the instance and the reason. With alarm_pipeline_events
// false there is no rule.
func TestTerraformPipelineAlarms(t *testing.T) {
	m := loadModule(t)
	alarms, diags := m.localExpr(t, "pipeline_alarms").Value(&hcl.EvalContext{Functions: tfFunctions})
	if diags.HasErrors() {
		t.Fatalf("evaluate local.pipeline_alarms: %v", diags)
	}
	rule, target := m.block(t, "resource", "aws_cloudwatch_event_rule", "pipeline_alarm"), m.block(t, "resource", "aws_cloudwatch_event_target", "pipeline_alarm")
	vars := moduleDefaults()
	ctx := func(key string) *hcl.EvalContext {
		each := cty.NullVal(cty.DynamicPseudoType)
		if key != "" {
			each = alarms.GetAttr(key)
		}
		return &hcl.EvalContext{
			Variables: map[string]cty.Value{
				"var":   cty.ObjectVal(vars),
				"local": cty.ObjectVal(map[string]cty.Value{"pipeline_alarms": alarms, "tags": cty.EmptyObjectVal}),
				"each":  cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": each}),
				"aws_cloudwatch_event_rule": cty.ObjectVal(map[string]cty.Value{"pipeline_alarm": cty.MapVal(map[string]cty.Value{
					key + "x": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("rule-of-" + key)}),
				})}),
			},
			Functions: tfFunctions,
		}
	}
	value := func(b *hclsyntax.Block, attr, key string) cty.Value {
		t.Helper()
		v, diags := b.Body.Attributes[attr].Expr.Value(ctx(key))
		if diags.HasErrors() {
			t.Fatalf("evaluate %s.%s[%q]: %v", b.Labels[1], attr, key, diags)
		}
		return v
	}

	var types []string
	for key := range alarms.AsValueMap() {
		a := alarms.GetAttr(key)
		detailType := a.GetAttr("detail_type").AsString()
		types = append(types, detailType)
		detail, ok := pipelineAlarmDetails[detailType]
		if !ok {
			t.Errorf("pipeline alarm %s: detail-type %q is not one of notify's alarm events", key, detailType)
			continue
		}
		var pattern map[string]any
		if err := json.Unmarshal([]byte(value(rule, "event_pattern", key).AsString()), &pattern); err != nil {
			t.Fatalf("pipeline alarm %s: event_pattern: %v", key, err)
		}
		wantPattern := map[string]any{"source": []any{notify.Source}, "detail-type": []any{detailType},
			"detail": map[string]any{notify.DeploymentField: []any{vars["prefix"].AsString()}}} // this deployment's only
		if !cmp.Equal(wantPattern, pattern) {
			t.Errorf("pipeline alarm %s: event_pattern = %v, want %v", key, pattern, wantPattern)
		}
		if got := value(target, "arn", key).AsString(); got != vars["alarm_sns_topic_arn"].AsString() {
			t.Errorf("pipeline alarm %s: target arn = %s, want alarm_sns_topic_arn", key, got)
		}

		paths := map[string]string{}
		for name, p := range a.GetAttr("input_paths").AsValueMap() {
			paths[name] = p.AsString()
			field, isDetail := strings.CutPrefix(p.AsString(), "$.detail.")
			switch {
			case isDetail && !slices.Contains(jsonFields(detail), field):
				t.Errorf("pipeline alarm %s: input path %s names no field of %T", key, p.AsString(), detail)
			case !isDetail && !slices.Contains([]string{"$.time", "$.account", "$.region", "$.id"}, p.AsString()):
				t.Errorf("pipeline alarm %s: input path %s is neither a detail field nor an envelope field", key, p.AsString())
			}
		}
		template := a.GetAttr("input_template").AsString()
		for _, ph := range regexp.MustCompile(`<([a-zA-Z0-9_]+)>`).FindAllStringSubmatch(template, -1) {
			if _, ok := paths[ph[1]]; !ok {
				t.Errorf("pipeline alarm %s: the template uses <%s>, which no input path defines", key, ph[1])
			}
		}
		for name := range paths {
			if !strings.Contains(template, "<"+name+">") {
				t.Errorf("pipeline alarm %s: input path %s is not used by the template", key, name)
			}
		}

		// The message a person reads, from the event as notify publishes it.
		at := time.Date(2025, 6, 2, 9, 8, 0, 0, time.UTC)
		var d any
		var want []string
		switch detailType {
		case notify.InstanceUpdateFailed:
			d = notify.JobDetail{JobID: "j-1", Cluster: "prod", Instance: "i-0123456789abcdef0", Outcome: "failed", Reason: "never-came-back",
				Message: `no "agent" after 15m`, Step: "verify", RequestedBy: "scanner", At: at}
			want = []string{"prod", "i-0123456789abcdef0", "never-came-back", `no "agent" after 15m`, "verify", "j-1"}
		case notify.ClusterRolloutHalted:
			d = notify.HaltedDetail{Cluster: "prod", Reason: "error-budget", Message: "2 failed updates within 1h: no new drain starts", At: at}
			want = []string{"prod", "error-budget", "2 failed updates within 1h"}
		}
		event, _ := json.Marshal(map[string]any{"version": "0", "id": "e-1", "detail-type": detailType, "source": notify.Source,
			"account": testAccount, "time": at.Format(time.RFC3339), "region": testRegion, "resources": []string{}, "detail": d})
		msg := transform(t, paths, template, event)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("pipeline alarm %s: the message %q does not contain %q", key, msg, w)
			}
		}
	}
	sort.Strings(types)
	if diff := cmp.Diff(sortedKeys(pipelineAlarmDetails), types); diff != "" {
		t.Errorf("pipeline alarms (-notify's alarm events +module):\n%s", diff)
	}

	vars["alarm_pipeline_events"] = cty.False
	for _, b := range []*hclsyntax.Block{rule, target} {
		if n := value(b, "for_each", "").LengthInt(); n != 0 {
			t.Errorf("%s with alarm_pipeline_events = false: %d instances, want none", b.Labels[1], n)
		}
	}

	// Pipeline events need a topic; without one they must be turned off explicitly.
	for _, tc := range []struct {
		events bool
		topic  cty.Value
		ok     bool
	}{
		{true, cty.StringVal("arn:aws:sns:eu-west-1:123456789012:alarms"), true},
		{true, cty.NullVal(cty.String), false},
		{false, cty.NullVal(cty.String), true},
	} {
		vars := moduleDefaults()
		vars["alarm_pipeline_events"], vars["alarm_sns_topic_arn"] = cty.BoolVal(tc.events), tc.topic
		if failed := validationsWith(t, m, "alarm_pipeline_events", vars); (len(failed) == 0) != tc.ok {
			t.Errorf("alarm_pipeline_events = %v, alarm_sns_topic_arn = %#v: validation failed %q, want ok %v", tc.events, tc.topic, failed, tc.ok)
		}
	}
}

// metricDims returns each metric of docs/events.md's metrics table with its dimensions.
func metricDims(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(\\w+)` \\| \\w+ \\| ([^|]*) \\|").FindAllStringSubmatch(string(doc), -1) {
		dims, _, _ := strings.Cut(m[2], ";")
		var ds []string
		for _, d := range strings.Split(dims, ",") {
			ds = append(ds, strings.TrimSpace(d))
		}
		sort.Strings(ds)
		out[m[1]] = ds
	}
	return out
}

// metricConstants returns the metric names shared/metrics declares.
func metricConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "shared", "metrics", "metrics.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING && vs.Names[0].Name == strings.Trim(lit.Value, `"`) {
			v, _ := strconv.Unquote(lit.Value)
			out = append(out, v)
		}
		return true
	})
	return out
}

// TestTerraformDashboard renders the dashboard body and checks its rollwave widgets: each SEARCH
// names a metric shared/metrics publishes, with exactly the dimensions docs/events.md gives it,
// the jobs started, succeeded, failed and waiting and the instances out of service are charted,
// and nothing reads Container Insights, which the module's cluster does not enable.
func TestTerraformDashboard(t *testing.T) {
	m := loadModule(t)
	s := scope{prefix: "rollwave", locals: map[string]cty.Value{}}
	for k, v := range m.locals {
		s.locals[k] = v
	}
	s.locals["region"] = cty.StringVal(testRegion)
	metricsLocal, diags := m.localExpr(t, "dashboard_metrics").Value(&hcl.EvalContext{Functions: tfFunctions})
	if diags.HasErrors() {
		t.Fatalf("evaluate local.dashboard_metrics: %v", diags)
	}
	s.locals["dashboard_metrics"] = metricsLocal
	ctx := s.ctx()
	ctx.Functions = tfFunctions
	body, diags := m.block(t, "resource", "aws_cloudwatch_dashboard", "this").Body.Attributes["dashboard_body"].Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("evaluate dashboard_body: %v", diags)
	}
	raw := body.AsString()
	if strings.Contains(raw, "ContainerInsights") {
		t.Error("the dashboard charts Container Insights metrics, which the module's cluster does not enable")
	}
	dims, consts := metricDims(t), metricConstants(t)
	search := regexp.MustCompile(`^SEARCH\('\{rollwave,([A-Za-z,]+)\} MetricName="(\w+)"', '(Sum|Maximum|Average)', \d+\)$`)
	var charted []string
	var dash struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]json.RawMessage `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("decode dashboard_body: %v", err)
	}
	for _, w := range dash.Widgets {
		for _, line := range w.Properties.Metrics {
			var opts struct{ Expression string }
			if len(line) != 1 || json.Unmarshal(line[0], &opts) != nil || opts.Expression == "" {
				continue
			}
			mm := search.FindStringSubmatch(opts.Expression)
			if mm == nil {
				t.Errorf("dashboard expression %s is not a SEARCH of namespace rollwave", opts.Expression)
				continue
			}
			name, got := mm[2], strings.Split(mm[1], ",")
			sort.Strings(got)
			charted = append(charted, name)
			if !slices.Contains(consts, name) {
				t.Errorf("dashboard charts %s, which shared/metrics does not publish", name)
			}
			if !cmp.Equal(dims[name], got) {
				t.Errorf("dashboard SEARCH of %s by %v, docs/events.md gives it the dimensions %v", name, got, dims[name])
			}
		}
	}
	for _, want := range []string{"JobsStarted", "JobsSucceeded", "JobsFailed", "JobsWaiting", "InstancesOutOfService"} {
		if !slices.Contains(charted, want) {
			t.Errorf("the dashboard does not chart %s", want)
		}
	}
}
