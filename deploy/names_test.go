package deploy

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rollwave/rollwave/shared/ssmdoc"
	"github.com/rollwave/rollwave/shared/topology"
)

// awsNameLimits is the longest name AWS accepts for each kind of name the module makes from the
// prefix (the APIs' documented constraints). A resource of another type with a name attribute
// fails TestTerraformNamesFitTheirLimits until its limit is added here.
var awsNameLimits = map[string]struct {
	attr  string
	limit int
}{
	"aws_sqs_queue":                      {"name", 80},
	"aws_cloudwatch_event_rule":          {"name", 64},
	"aws_cloudwatch_event_target":        {"target_id", 64},
	"aws_iam_role":                       {"name", 64},
	"aws_iam_role_policy":                {"name", 128},
	"aws_cloudwatch_log_group":           {"name", 512},
	"aws_ssm_document":                   {"name", 128},
	"aws_ecs_cluster":                    {"name", 255},
	"aws_ecs_service":                    {"name", 255},
	"aws_ecs_task_definition":            {"family", 255},
	"aws_cloudwatch_metric_alarm":        {"alarm_name", 255},
	"aws_appautoscaling_policy":          {"name", 256},
	"aws_cloudwatch_dashboard":           {"dashboard_name", 255},
	"aws_cloudwatch_log_resource_policy": {"policy_name", 255},
}

// namedLength is one name the module derives from the prefix: how many characters it adds to it.
type namedLength struct {
	what   string
	suffix int // characters besides the prefix
	limit  int
}

// codeNames derives the names of the code's topology and documents from shared/topology and
// shared/ssmdoc, which bootstrap and the module both create.
func codeNames(prefix string) []namedLength {
	var out []namedLength
	add := func(what, name string, limit int) {
		out = append(out, namedLength{what: what + " " + name, suffix: len(name) - len(prefix), limit: limit})
	}
	topo := topology.Default(prefix)
	for _, q := range topo.Queues {
		add("SQS queue", q.Name, 80)
		add("SQS queue", q.DeadLetter.Name, 80)
	}
	for _, r := range topo.Rules {
		add("EventBridge rule", r.Name, 64)
		add("EventBridge target ID", r.TargetID, 64)
	}
	add("EventBridge rule", topo.PipelineRuleName(), 64)
	add("EventBridge rule", topo.History.Rule, 64)
	add("EventBridge target ID", topo.History.RuleTargetID, 64)
	add("CloudWatch log group", topo.History.LogGroup, 512)
	for _, k := range ssmdoc.Kinds {
		add("SSM document", ssmdoc.Name(prefix, k), 128)
	}
	return out
}

// moduleNames evaluates the name of every named resource of the module, for every key of its
// for_each, with prefix.
func moduleNames(t *testing.T, m tfModule, prefix string) []namedLength {
	t.Helper()
	vars := moduleDefaults()
	vars["prefix"] = cty.StringVal(prefix)
	vars["schedule"] = cty.StringVal("rate(1 day)")
	vars["service_cluster_arn"] = cty.NullVal(cty.String)
	s := scope{prefix: prefix, locals: map[string]cty.Value{}}
	for k, v := range m.locals {
		s.locals[k] = v
	}
	// The locals that are constants (local.services, ...), which for_each iterates.
	for _, b := range m.blocks {
		if b.Type != "locals" {
			continue
		}
		for name, a := range b.Body.Attributes {
			if len(a.Expr.Variables()) > 0 {
				continue
			}
			if v, diags := a.Expr.Value(&hcl.EvalContext{Functions: tfFunctions}); !diags.HasErrors() {
				s.locals[name] = v
			}
		}
	}
	var out []namedLength
	for _, b := range m.blocks {
		if b.Type != "resource" {
			continue
		}
		lim, ok := awsNameLimits[b.Labels[0]]
		if !ok {
			for _, a := range []string{"name", "name_prefix", "alarm_name", "family", "target_id", "dashboard_name"} {
				if _, named := b.Body.Attributes[a]; named {
					t.Errorf("resource %s.%s has a %s: add its AWS limit to awsNameLimits", b.Labels[0], b.Labels[1], a)
				}
			}
			continue
		}
		keys := []string{""}
		if fe, ok := b.Body.Attributes["for_each"]; ok {
			keys = forEachKeys(t, fe.Expr, s.locals)
		}
		for _, key := range keys {
			s := s
			s.each = key
			if key != "" {
				for _, tr := range b.Body.Attributes["for_each"].Expr.Variables() {
					if tr.RootName() == "local" {
						s.eachVal = s.locals[tr[1].(hcl.TraverseAttr).Name].GetAttr(key)
					}
				}
			}
			ctx := s.ctx()
			ctx.Functions = tfFunctions
			all := ctx.Variables
			all["var"] = cty.ObjectVal(vars)
			name, diags := b.Body.Attributes[lim.attr].Expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("evaluate %s.%s[%q].%s: %v", b.Labels[0], b.Labels[1], key, lim.attr, diags)
			}
			out = append(out, namedLength{
				what:   b.Labels[0] + " " + name.AsString(),
				suffix: len(name.AsString()) - len(prefix),
				limit:  lim.limit,
			})
		}
	}
	return out
}

// forEachKeys returns the keys of a for_each over a local map (local.X, or a conditional of it).
func forEachKeys(t *testing.T, e hclsyntax.Expression, locals map[string]cty.Value) []string {
	t.Helper()
	for _, tr := range e.Variables() {
		if tr.RootName() != "local" {
			continue
		}
		v, ok := locals[tr[1].(hcl.TraverseAttr).Name]
		if !ok {
			t.Fatalf("for_each at %s: local.%s is not known to the test", e.Range(), tr[1].(hcl.TraverseAttr).Name)
		}
		return sortedKeys(v.AsValueMap())
	}
	t.Fatalf("for_each at %s iterates no local", e.Range())
	return nil
}

// TestTerraformNamesFitTheirLimits derives every name the code and the module make from the
// prefix, finds the longest prefix for which each still fits its AWS limit, and checks that the
// prefix validation admits exactly that: one character more would be refused at apply.
func TestTerraformNamesFitTheirLimits(t *testing.T) {
	m := loadModule(t)
	const p = "p"
	names := append(codeNames(p), moduleNames(t, m, p)...)
	bound, binding := 1<<30, ""
	for _, n := range names {
		if b := n.limit - n.suffix; b < bound {
			bound, binding = b, n.what
		}
	}
	t.Logf("longest prefix: %d characters, bound by %s", bound, binding)
	for _, n := range moduleNames(t, m, strings.Repeat("x", bound)) {
		if got := n.suffix + bound; got > n.limit {
			t.Errorf("with a prefix of %d characters, %s has %d characters, more than %d", bound, n.what, got, n.limit)
		}
	}
	if failed := validations(t, m, "prefix", cty.StringVal(strings.Repeat("a", bound))); len(failed) > 0 {
		t.Errorf("prefix of %d characters (every name fits): refused: %q", bound, failed)
	}
	if failed := validations(t, m, "prefix", cty.StringVal(strings.Repeat("a", bound+1))); len(failed) == 0 {
		t.Errorf("prefix of %d characters accepted, but %s would then exceed its limit", bound+1, binding)
	}
}

// TestTerraformLogRetentionValidation checks that log_retention_days and history_retention_days
// admit exactly the values CloudWatch Logs' PutRetentionPolicy accepts (topology.RetentionDays),
// and 0 (the provider's "never expire").
func TestTerraformLogRetentionValidation(t *testing.T) {
	m := loadModule(t)
	accepted := map[int]bool{0: true}
	for _, d := range topology.RetentionDays {
		accepted[d] = true
	}
	for _, input := range []string{"log_retention_days", "history_retention_days"} {
		for d := -1; d <= 4000; d++ {
			failed := validations(t, m, input, cty.NumberIntVal(int64(d)))
			if got := len(failed) == 0; got != accepted[d] {
				t.Errorf("%s = %d: accepted %v, want %v", input, d, got, accepted[d])
			}
		}
	}
}
