package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
	"github.com/rollwave/rollwave/shared/update"
)

var update_ = flag.Bool("update", false, "rewrite the generated Terraform locals")

const (
	repoRoot  = ".."
	moduleDir = "../terraform/modules/rollwave"
)

// tfModule is the parsed module: every block of every .tf file.
type tfModule struct {
	blocks []*hclsyntax.Block
	locals map[string]cty.Value // the generated locals, evaluated
}

func loadModule(t *testing.T) tfModule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(moduleDir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("glob %s: %v (%d files)", moduleDir, err, len(files))
	}
	p := hclparse.NewParser()
	m := tfModule{locals: map[string]cty.Value{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %v", f, diags)
		}
		body := file.Body.(*hclsyntax.Body)
		m.blocks = append(m.blocks, body.Blocks...)
		if filepath.Base(f) != filepath.Base(GeneratedFile) {
			continue
		}
		for _, b := range body.Blocks {
			for name, attr := range b.Body.Attributes {
				v, diags := attr.Expr.Value(nil)
				if diags.HasErrors() {
					t.Fatalf("evaluate local.%s: %v", name, diags)
				}
				m.locals[name] = v
			}
		}
	}
	return m
}

// block returns the block of the given type and labels.
func (m tfModule) block(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	for _, b := range m.blocks {
		if b.Type == typ && slices.Equal(b.Labels, labels) {
			return b
		}
	}
	t.Fatalf("no %s %q in the module", typ, labels)
	return nil
}

// scope is what the test knows of a plan: the variables, the generated locals, fake ARNs for the
// resources, each.key/each.value.
type scope struct {
	prefix   string
	clusters []string
	restrict bool
	// clusterTag is var.cluster_tag ("" for none).
	clusterTag string
	schedule   string
	locals     map[string]cty.Value
	each       string
	eachVal    cty.Value
}

const testAccount, testRegion = "123456789012", "eu-west-1"

func (s scope) clusterARNs() []string {
	var arns []string
	for _, c := range s.clusters {
		arns = append(arns, fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", testRegion, testAccount, c))
	}
	return arns
}

func queueARN(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", testRegion, testAccount, name)
}

func (s scope) ctx() *hcl.EvalContext {
	t := topology.Default(s.prefix)
	queues, dlqs := map[string]cty.Value{}, map[string]cty.Value{}
	for _, q := range t.Queues {
		queues[q.Logical] = cty.ObjectVal(map[string]cty.Value{"arn": cty.StringVal(queueARN(q.Name)), "name": cty.StringVal(q.Name)})
		dlqs[q.Logical] = cty.ObjectVal(map[string]cty.Value{"arn": cty.StringVal(queueARN(q.DeadLetter.Name)), "name": cty.StringVal(q.DeadLetter.Name)})
	}
	locals := map[string]cty.Value{}
	for k, v := range s.locals {
		locals[k] = v
	}
	var arns []cty.Value
	for _, a := range s.clusterARNs() {
		arns = append(arns, cty.StringVal(a))
	}
	locals["cluster_arns"] = cty.TupleVal(arns)
	schedule := cty.NullVal(cty.String)
	if s.schedule != "" {
		schedule = cty.StringVal(s.schedule)
	}
	vars := map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{
			"prefix":                      cty.StringVal(s.prefix),
			"restrict_events_to_clusters": cty.BoolVal(s.restrict),
			"cluster_tag":                 cty.StringVal(s.clusterTag),
			"schedule":                    schedule,
		}),
		"local":          cty.ObjectVal(locals),
		"aws_sqs_queue":  cty.ObjectVal(map[string]cty.Value{"queue": cty.ObjectVal(queues), "dlq": cty.ObjectVal(dlqs)}),
		"each":           cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(s.each), "value": s.eachVal}),
		"aws_iam_policy": cty.EmptyObjectVal,
	}
	return &hcl.EvalContext{
		Variables: vars,
		Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc, "merge": stdlib.MergeFunc},
	}
}

// forEach sets each.key to key and each.value to the entry of the local map the block iterates.
func (s scope) forEach(local, key string) scope {
	s.each = key
	s.eachVal = s.locals[local].GetAttr(key)
	return s
}

func eval(t *testing.T, b *hclsyntax.Block, attr string, s scope) cty.Value {
	t.Helper()
	a, ok := b.Body.Attributes[attr]
	if !ok {
		t.Fatalf("%s %v has no attribute %s", b.Type, b.Labels, attr)
	}
	v, diags := a.Expr.Value(s.ctx())
	if diags.HasErrors() {
		t.Fatalf("evaluate %s %v %s: %v", b.Type, b.Labels, attr, diags)
	}
	return v
}

func str(t *testing.T, v cty.Value) string {
	t.Helper()
	if v.IsNull() || !v.Type().Equals(cty.String) {
		t.Fatalf("value %#v is not a string", v)
	}
	return v.AsString()
}

func num(t *testing.T, v cty.Value) int64 {
	t.Helper()
	n, _ := v.AsBigFloat().Int64()
	return n
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return cmp.Equal(x, y)
}

func TestGeneratedTerraform(t *testing.T) {
	path := filepath.Join(repoRoot, GeneratedFile)
	want := TerraformLocals()
	if *update_ {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from what shared/topology and shared/ssmdoc generate (go generate ./deploy) (-want +got):\n%s", GeneratedFile, diff)
	}
}

func TestTerraformQueuesMatchTopology(t *testing.T) {
	m := loadModule(t)
	for _, prefix := range []string{"rollwave", "acme-rw"} {
		topo := topology.Default(prefix)
		s := scope{prefix: prefix, locals: m.locals}
		var logicals []string
		for _, q := range topo.Queues {
			logicals = append(logicals, q.Logical)
			s := s.forEach("topology_queues", q.Logical)
			queue, dlq := m.block(t, "resource", "aws_sqs_queue", "queue"), m.block(t, "resource", "aws_sqs_queue", "dlq")
			checks := []struct {
				what      string
				got, want any
			}{
				{"queue name", str(t, eval(t, queue, "name", s)), q.Name},
				{"visibility_timeout_seconds", num(t, eval(t, queue, "visibility_timeout_seconds", s)), int64(q.VisibilityTimeout.Seconds())},
				{"message_retention_seconds", num(t, eval(t, queue, "message_retention_seconds", s)), int64(q.MessageRetention.Seconds())},
				{"receive_wait_time_seconds", num(t, eval(t, queue, "receive_wait_time_seconds", s)), int64(q.ReceiveWait.Seconds())},
				{"max_message_size", num(t, eval(t, queue, "max_message_size", s)), int64(q.MaxMessageBytes)},
				{"dlq max_message_size", num(t, eval(t, dlq, "max_message_size", s)), int64(q.MaxMessageBytes)},
				{"sqs_managed_sse_enabled", eval(t, queue, "sqs_managed_sse_enabled", s).True(), true},
				{"dlq name", str(t, eval(t, dlq, "name", s)), q.DeadLetter.Name},
				{"dlq message_retention_seconds", num(t, eval(t, dlq, "message_retention_seconds", s)), int64(q.DeadLetter.MessageRetention.Seconds())},
				{"dlq sqs_managed_sse_enabled", eval(t, dlq, "sqs_managed_sse_enabled", s).True(), true},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("prefix %s queue %s: %s = %v, want %v", prefix, q.Logical, c.what, c.got, c.want)
				}
			}
			var redrive topology.RedrivePolicy
			if err := json.Unmarshal([]byte(str(t, eval(t, queue, "redrive_policy", s))), &redrive); err != nil {
				t.Fatalf("decode redrive_policy: %v", err)
			}
			if want := (topology.RedrivePolicy{DeadLetterTargetARN: queueARN(q.DeadLetter.Name), MaxReceiveCount: q.MaxReceiveCount}); redrive != want {
				t.Errorf("prefix %s queue %s: redrive_policy = %+v, want %+v", prefix, q.Logical, redrive, want)
			}
			allow := m.block(t, "resource", "aws_sqs_queue_redrive_allow_policy", "dlq")
			var got topology.RedriveAllowPolicy
			if err := json.Unmarshal([]byte(str(t, eval(t, allow, "redrive_allow_policy", s))), &got); err != nil {
				t.Fatalf("decode redrive_allow_policy: %v", err)
			}
			want := topology.RedriveAllowPolicy{RedrivePermission: "byQueue", SourceQueueARNs: []string{queueARN(q.Name)}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("prefix %s queue %s: redrive_allow_policy (-want +got):\n%s", prefix, q.Logical, diff)
			}
		}
		var tfQueues []string
		for name := range m.locals["topology_queues"].AsValueMap() {
			tfQueues = append(tfQueues, name)
		}
		sort.Strings(logicals)
		sort.Strings(tfQueues)
		if diff := cmp.Diff(logicals, tfQueues); diff != "" {
			t.Errorf("queues of the module differ from the topology (-topology +terraform):\n%s", diff)
		}
	}
}

func TestTerraformQueuePoliciesDenyInsecureTransport(t *testing.T) {
	m := loadModule(t)
	for _, name := range []string{"queue", "dlq"} {
		doc := m.block(t, "data", "aws_iam_policy_document", name)
		found := false
		for _, st := range doc.Body.Blocks {
			if st.Type != "statement" {
				continue
			}
			effect, _ := st.Body.Attributes["effect"].Expr.Value(nil)
			if effect.IsNull() || effect.AsString() != "Deny" {
				continue
			}
			for _, c := range st.Body.Blocks {
				if c.Type != "condition" {
					continue
				}
				variable, _ := c.Body.Attributes["variable"].Expr.Value(nil)
				values, _ := c.Body.Attributes["values"].Expr.Value(nil)
				if variable.AsString() == "aws:SecureTransport" && values.LengthInt() == 1 && values.Index(cty.NumberIntVal(0)).AsString() == "false" {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("the %s policy has no Deny statement on aws:SecureTransport false", name)
		}
		if _, ok := m.block(t, "resource", "aws_sqs_queue_policy", name).Body.Attributes["policy"]; !ok {
			t.Errorf("aws_sqs_queue_policy.%s sets no policy", name)
		}
	}
}

func TestTerraformRulesMatchTopology(t *testing.T) {
	m := loadModule(t)
	rule, target := m.block(t, "resource", "aws_cloudwatch_event_rule", "ecs"), m.block(t, "resource", "aws_cloudwatch_event_target", "ecs")
	clusters := []string{"prod", "staging"}
	for _, tc := range []struct {
		restrict bool
		tag      string
	}{{false, ""}, {true, ""}, {true, "rollwave=on"}} {
		restrict := tc.restrict
		for _, prefix := range []string{"rollwave", "acme-rw"} {
			s := scope{prefix: prefix, clusters: clusters, restrict: restrict, clusterTag: tc.tag, locals: m.locals}
			topo := topology.Default(prefix)
			if restrict && tc.tag == "" { // tagged clusters are not known to the rules: every cluster's events
				topo = topo.RestrictToClusters(s.clusterARNs())
			}
			if got, want := len(m.locals["topology_ecs_rules"].AsValueMap()), len(topo.Rules); got != want {
				t.Errorf("module has %d ECS rules, topology %d", got, want)
			}
			for _, r := range topo.Rules {
				s := s.forEach("topology_ecs_rules", r.Target)
				if got := str(t, eval(t, rule, "name", s)); got != r.Name {
					t.Errorf("rule for %s: name = %q, want %q", r.Target, got, r.Name)
				}
				if got := str(t, eval(t, rule, "description", s)); got != r.Description {
					t.Errorf("rule %s: description = %q, want %q", r.Name, got, r.Description)
				}
				if got := str(t, eval(t, rule, "event_pattern", s)); !sameJSON(t, got, r.EventPattern) {
					t.Errorf("rule %s (restrict %v): event_pattern = %s, want %s", r.Name, restrict, got, r.EventPattern)
				}
				if got := str(t, eval(t, target, "target_id", s)); got != r.TargetID {
					t.Errorf("rule %s: target_id = %q, want %q", r.Name, got, r.TargetID)
				}
				q, _ := topo.Queue(r.Target)
				if got := str(t, eval(t, target, "arn", s)); got != queueARN(q.Name) {
					t.Errorf("rule %s: target arn = %q, want %q", r.Name, got, queueARN(q.Name))
				}
			}
		}
	}
}

// TestTerraformHistoryRuleIsTheDeployments: the history rule archives the events of its own
// deployment only, as bootstrap's does (topology.History.Pattern), whatever the prefix.
func TestTerraformHistoryRuleIsTheDeployments(t *testing.T) {
	m := loadModule(t)
	rule := m.block(t, "resource", "aws_cloudwatch_event_rule", "history")
	for _, prefix := range []string{"rollwave", "acme-rw"} {
		s := scope{prefix: prefix, locals: m.locals}
		want := topology.Default(prefix).History.Pattern
		if got := str(t, eval(t, rule, "event_pattern", s)); !sameJSON(t, got, want) {
			t.Errorf("history rule (prefix %s): event_pattern = %s, want %s", prefix, got, want)
		}
		if got := str(t, eval(t, rule, "name", s)); got != topology.Default(prefix).History.Rule {
			t.Errorf("history rule (prefix %s): name = %s, want %s", prefix, got, topology.Default(prefix).History.Rule)
		}
	}
}

func TestTerraformScheduleSendsAScanRequest(t *testing.T) {
	m := loadModule(t)
	s := scope{prefix: "rollwave", schedule: "rate(1 day)", locals: m.locals}
	target := m.block(t, "resource", "aws_cloudwatch_event_target", "scan")
	input := str(t, eval(t, target, "input", s))
	req, err := update.DecodeScan([]byte(input))
	if err != nil {
		t.Fatalf("DecodeScan(%s) = %v, want a valid scan request", input, err)
	}
	if req.Schema != update.ScanSchema || req.RequestedBy == "" || req.Reason == "" {
		t.Errorf("scan request %+v: want schema %s, requestedBy and reason", req, update.ScanSchema)
	}
	if got := str(t, eval(t, target, "arn", s)); got != queueARN("rollwave-"+topology.Scanner) {
		t.Errorf("schedule target arn = %q, want the scanner queue", got)
	}
}

func TestTerraformDocumentsMatchSSMDoc(t *testing.T) {
	m := loadModule(t)
	doc := m.block(t, "resource", "aws_ssm_document", "this")
	docs := m.locals["ssm_documents"].AsValueMap()
	if len(docs) != len(ssmdoc.Kinds) {
		t.Errorf("module has %d documents, ssmdoc %d", len(docs), len(ssmdoc.Kinds))
	}
	for _, k := range ssmdoc.Kinds {
		s := scope{prefix: "acme", locals: m.locals}.forEach("ssm_documents", string(k))
		if got, want := str(t, eval(t, doc, "name", s)), ssmdoc.Name("acme", k); got != want {
			t.Errorf("document %s: name = %q, want %q", k, got, want)
		}
		if got, want := str(t, eval(t, doc, "content", s)), ssmdoc.Content(k); got != want {
			t.Errorf("document %s: content = %s, want %s", k, got, want)
		}
	}
}

func TestTerraformIsFormatted(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "terraform"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".tf") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("walk terraform/: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos); diags.HasErrors() {
			t.Errorf("parse %s: %v", f, diags)
			continue
		}
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted as terraform fmt would (run terraform fmt -recursive terraform/)", f)
		}
	}
}

// TestTerraformModuleInterface checks the module's inputs, outputs and pins with
// terraform-config-inspect, and that terraform/README.md documents every input and output.
func TestTerraformModuleInterface(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{moduleDir, filepath.Join(repoRoot, "terraform", "examples", "complete")} {
		mod, diags := tfconfig.LoadModule(dir)
		if diags.HasErrors() {
			t.Fatalf("load %s: %v", dir, diags)
		}
		if len(mod.RequiredCore) == 0 {
			t.Errorf("%s: no required_version", dir)
		}
		aws, ok := mod.RequiredProviders["aws"]
		if !ok || aws.Source != "hashicorp/aws" || len(aws.VersionConstraints) == 0 {
			t.Errorf("%s: aws provider not pinned: %+v", dir, aws)
		}
		for name, v := range mod.Variables {
			if v.Description == "" {
				t.Errorf("%s: variable %s has no description", dir, name)
			}
		}
		for name, o := range mod.Outputs {
			if o.Description == "" {
				t.Errorf("%s: output %s has no description", dir, name)
			}
		}
		if dir != moduleDir {
			continue
		}
		for name := range mod.Variables {
			if !bytes.Contains(readme, []byte("`"+name+"`")) {
				t.Errorf("terraform/README.md does not document input %s", name)
			}
		}
		for name := range mod.Outputs {
			if !bytes.Contains(readme, []byte("`"+name+"`")) {
				t.Errorf("terraform/README.md does not document output %s", name)
			}
		}
		for _, want := range []string{"prefix", "clusters", "schedule", "max_out_of_service", "timeouts", "image_registry", "image_tag", "subnets", "security_groups", "alarm_sns_topic_arn", "tags"} {
			if _, ok := mod.Variables[want]; !ok {
				t.Errorf("module has no input %s", want)
			}
		}
		for _, want := range []string{"queue_urls", "queue_arns", "dead_letter_queue_urls", "task_role_arns", "service_names"} {
			if _, ok := mod.Outputs[want]; !ok {
				t.Errorf("module has no output %s", want)
			}
		}
	}
}

// TestTerraformWorkersConsumeTheTopologysQueues checks the module's local.services (the queues
// each worker's role consumes) and local.job_queues (those whose depth scales it) against the
// topology: every queue a worker receives from, and its job queues, the ones no ECS rule targets.
// A queue added to the topology, such as the patcher's reboot lane, is thus consumed and scaled.
func TestTerraformWorkersConsumeTheTopologysQueues(t *testing.T) {
	m := loadModule(t)
	topo := topology.Default(topology.DefaultPrefix)
	wantServices, wantJobs := map[string][]string{}, map[string][]string{}
	for _, w := range []string{topology.ScannerWorker, topology.PatcherWorker, topology.DrainerWorker, topology.VerifierWorker} {
		for _, q := range topo.ConsumedBy(w) {
			wantServices[w] = append(wantServices[w], q.Logical)
			if len(topo.RulesTargeting(q.Logical)) == 0 {
				wantJobs[w] = append(wantJobs[w], q.Logical)
			}
		}
	}
	for name, want := range map[string]map[string][]string{"services": wantServices, "job_queues": wantJobs} {
		var got map[string][]string
		for _, b := range m.blocks {
			a, ok := b.Body.Attributes[name]
			if b.Type != "locals" || !ok {
				continue
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("evaluate local.%s: %v", name, diags)
			}
			got = map[string][]string{}
			for w, qs := range v.AsValueMap() {
				for _, q := range qs.AsValueSlice() {
					got[w] = append(got[w], q.AsString())
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("local.%s (-topology +module):\n%s", name, diff)
		}
	}
}

// TestTerraformEnvironmentIsReadByTheWorkers checks that every variable the task definitions set
// is one the worker reads, so a renamed setting cannot silently fall back to its default.
func TestTerraformEnvironmentIsReadByTheWorkers(t *testing.T) {
	m := loadModule(t)
	var envExpr, commonExpr hclsyntax.Expression
	for _, b := range m.blocks {
		if b.Type != "locals" {
			continue
		}
		if a, ok := b.Body.Attributes["service_environment"]; ok {
			envExpr = a.Expr
		}
		if a, ok := b.Body.Attributes["common_environment"]; ok {
			commonExpr = a.Expr
		}
	}
	if envExpr == nil || commonExpr == nil {
		t.Fatal("no local service_environment or common_environment")
	}
	reads := workerSettings(t) // every ROLLWAVE_ name in the worker's code and the packages it imports
	services := objectKeys(t, envExpr)
	if diff := cmp.Diff([]string{"drainer", "patcher", "scanner", "verifier"}, sortedKeys(services)); diff != "" {
		t.Errorf("service_environment workers (-want +got):\n%s", diff)
	}
	for svc, expr := range services {
		names := sortedKeys(objectKeys(t, expr))
		names = append(names, sortedKeys(objectKeys(t, commonExpr))...)
		for _, name := range names {
			if strings.HasPrefix(name, "AWS_") {
				continue
			}
			if !contains(reads[svc], name) {
				t.Errorf("%s sets %s, which the %s worker's code does not read", svc, name, svc)
			}
		}
	}
}

func objectKeys(t *testing.T, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("expression at %s is not an object", e.Range())
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		key := hcl.ExprAsKeyword(item.KeyExpr)
		if key == "" {
			v, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("key at %s: %v", item.KeyExpr.Range(), diags)
			}
			key = v.AsString()
		}
		out[key] = item.ValueExpr
	}
	return out
}

// TestCheckovSkipsGiveAReason checks that every finding of checkov (make checkov) skipped in
// terraform/ says why, next to the resource: #checkov:skip=CKV_...:reason.
func TestCheckovSkipsGiveAReason(t *testing.T) {
	skip := regexp.MustCompile(`checkov:skip=([^\s:]*)(:?)(.*)`)
	valid := regexp.MustCompile(`^CKV2?_[A-Z0-9]+_[0-9]+$`)
	err := filepath.WalkDir(filepath.Join(repoRoot, "terraform"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			m := skip.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if !valid.MatchString(m[1]) || m[2] != ":" || len(strings.TrimSpace(m[3])) < 20 {
				t.Errorf("%s:%d: %q: write #checkov:skip=CKV_<ID>:<why the finding does not apply>", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTerraformExamplesCallTheModuleWithItsInputs checks each example's call of the module as
// terraform validate would: every argument is an input of the module (or a meta-argument), and
// every input without a default is given.
func TestTerraformExamplesCallTheModuleWithItsInputs(t *testing.T) {
	mod, diags := tfconfig.LoadModule(moduleDir)
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", moduleDir, diags)
	}
	meta := map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}
	calls := 0
	for _, example := range []string{"complete", "localstack"} {
		files, err := filepath.Glob(filepath.Join(repoRoot, "terraform", "examples", example, "*.tf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			for _, b := range parseTF(t, f).Blocks {
				if b.Type != "module" {
					continue
				}
				calls++
				for name, a := range b.Body.Attributes {
					if _, ok := mod.Variables[name]; !ok && !meta[name] {
						t.Errorf("%s: module %s sets %s, which is not an input of the module", a.NameRange, b.Labels[0], name)
					}
				}
				for name, v := range mod.Variables {
					if _, set := b.Body.Attributes[name]; v.Required && !set {
						t.Errorf("%s: module %s does not set the required input %s", b.TypeRange, b.Labels[0], name)
					}
				}
			}
		}
	}
	if calls != 2 {
		t.Errorf("found %d calls of the module in the examples, want 2", calls)
	}
}
