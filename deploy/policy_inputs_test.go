package deploy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/rollwave/rollwave/shared/launchtemplate"
	"github.com/rollwave/rollwave/shared/policy"
	"github.com/rollwave/rollwave/shared/promotion"
	"github.com/rollwave/rollwave/shared/update"
)

// tfFunctions are the Terraform functions the module's environment and validations use, as the
// cty and hcl libraries Terraform itself builds them from define them.
var tfFunctions = map[string]function.Function{
	"jsonencode": stdlib.JSONEncodeFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"merge":      stdlib.MergeFunc,
	"join":       stdlib.JoinFunc,
	// Terraform's length, unlike cty's, also counts an object's attributes and a string's
	// characters.
	"length": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if ty := args[0].Type(); ty.IsObjectType() {
				return cty.NumberIntVal(int64(len(ty.AttributeTypes()))), nil
			} else if ty == cty.String {
				return stdlib.Strlen(args[0])
			}
			return stdlib.Length(args[0])
		},
	}),
	"keys":      stdlib.KeysFunc,
	"trimspace": stdlib.TrimSpaceFunc,
	"contains":  stdlib.ContainsFunc,
	"flatten":   stdlib.FlattenFunc,
	"distinct":  stdlib.DistinctFunc,
	"regex":     stdlib.RegexFunc,
	"floor":     stdlib.FloorFunc,
	"concat":    stdlib.ConcatFunc,
	"split":     stdlib.SplitFunc,
	"slice":     stdlib.SliceFunc,
	"try":       tryfunc.TryFunc,
	"can":       tryfunc.CanFunc,
	"tostring": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return convert.Convert(args[0], cty.String)
		},
	}),
	"alltrue": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if v.IsNull() || !v.True() {
					return cty.False, nil
				}
			}
			return cty.True, nil
		},
	}),
}

// moduleDefaults are the module's inputs as Terraform passes them when the caller sets none of
// the optional ones (optional object attributes become null), with the required ones set.
func moduleDefaults() map[string]cty.Value {
	nullNum, nullStr, nullBool := cty.NullVal(cty.Number), cty.NullVal(cty.String), cty.NullVal(cty.Bool)
	return map[string]cty.Value{
		"prefix":      cty.StringVal("rollwave"),
		"clusters":    cty.ListVal([]cty.Value{cty.StringVal("prod")}),
		"cluster_tag": cty.StringVal(""),
		"timeouts": cty.ObjectVal(map[string]cty.Value{
			"drain": cty.StringVal("25m"), "reboot": cty.StringVal("15m"), "apply": cty.StringVal("15m"),
			"scan": cty.StringVal("5m"), "recheck": cty.StringVal("30s"),
		}),
		"max_out_of_service":        cty.StringVal("1"),
		"on_verify_failure":         cty.StringVal("park"),
		"standalone_tasks":          cty.StringVal("skip"),
		"log_level":                 cty.StringVal("info"),
		"global_max_out_of_service": nullNum,
		"capacity_check":            nullBool,
		"health_gate":               nullBool,
		"health_gate_timeout":       nullStr,
		"maintenance_window":        nullStr,
		"standalone_deadline":       nullStr,
		"standalone_grace":          nullStr,
		"rollback":                  nullBool,
		"error_budget":              cty.ObjectVal(map[string]cty.Value{"failures": nullNum, "window": nullStr}),
		"cluster_policies":          cty.EmptyObjectVal,
		"metrics":                   nullBool,
		"dry_run":                   nullBool,
		"reboot_grace":              nullStr,
		"waiting_threshold":         nullStr,
		"target_version":            nullStr,
		"launch_templates":          nullStr,
		"launch_template_tag":       cty.StringVal("*"),
		"alarm_names":               cty.ListValEmpty(cty.String),
		"alarm_prefix":              nullStr,
		"stages":                    cty.ListValEmpty(stageType),
		"alarm_halt":                nullStr,
		"visibility_timeout":        nullStr,
		"lease":                     nullStr,
		"concurrency": cty.ObjectVal(map[string]cty.Value{
			"scanner": nullNum, "patcher": nullNum, "reboot": nullNum, "drainer": nullNum, "verifier": nullNum,
		}),
		"instance_tag":           cty.StringVal("rollwave=managed"),
		"alarm_sns_topic_arn":    cty.StringVal("arn:aws:sns:" + testRegion + ":" + testAccount + ":alarms"),
		"alarm_pipeline_events":  cty.True,
		"log_retention_days":     cty.NumberIntVal(30),
		"history_retention_days": cty.NumberIntVal(90),
		"log_kms_key_arn":        nullStr,
		"create_services":        cty.True,
	}
}

// localExpr returns the expression of the module's local name.
func (m tfModule) localExpr(t *testing.T, name string) hclsyntax.Expression {
	t.Helper()
	for _, b := range m.blocks {
		if b.Type != "locals" {
			continue
		}
		if a, ok := b.Body.Attributes[name]; ok {
			return a.Expr
		}
	}
	t.Fatalf("no local %s in the module", name)
	return nil
}

// workerEnvironment evaluates the module's locals for vars and returns each worker's environment
// as its task definition sets it: common_environment merged with its own, null values left out.
func workerEnvironment(t *testing.T, m tfModule, vars map[string]cty.Value) map[string]map[string]string {
	t.Helper()
	locals := map[string]cty.Value{"region": cty.StringVal(testRegion)}
	ctx := func() *hcl.EvalContext {
		return &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.ObjectVal(locals)},
			Functions: tfFunctions,
		}
	}
	for _, name := range []string{"error_budget_environment", "service_environment", "common_environment"} {
		v, diags := m.localExpr(t, name).Value(ctx())
		if diags.HasErrors() {
			t.Fatalf("evaluate local.%s: %v", name, diags)
		}
		locals[name] = v
	}
	out := map[string]map[string]string{}
	for worker, env := range locals["service_environment"].AsValueMap() {
		out[worker] = map[string]string{}
		for _, e := range []cty.Value{locals["common_environment"], env} {
			for k, v := range e.AsValueMap() {
				if v.IsNull() {
					continue
				}
				if !v.Type().Equals(cty.String) {
					t.Fatalf("%s: %s is %s, want a string (ECS takes only strings)", worker, k, v.Type().FriendlyName())
				}
				out[worker][k] = v.AsString()
			}
		}
	}
	return out
}

// TestTerraformPolicyInputsSetTheirVariables sets each policy and operational input alone and
// checks that exactly its variables change, in exactly the workers that read them, and that left
// unset they set nothing, so the code's default applies.
func TestTerraformPolicyInputsSetTheirVariables(t *testing.T) {
	m := loadModule(t)
	base := workerEnvironment(t, m, moduleDefaults())
	var policyVars []string
	for _, v := range policy.Variables {
		if v != "ROLLWAVE_MAX_OUT_OF_SERVICE" && v != "ROLLWAVE_STANDALONE_TASKS" && v != "ROLLWAVE_ON_VERIFY_FAILURE" { // inputs with the code's default as theirs
			policyVars = append(policyVars, v)
		}
	}
	for worker, env := range base {
		for _, name := range append(policyVars, "ROLLWAVE_METRICS", "ROLLWAVE_DRY_RUN", "ROLLWAVE_VISIBILITY_TIMEOUT", "ROLLWAVE_REBOOT_GRACE", "ROLLWAVE_WAITING_THRESHOLD", "ROLLWAVE_CONCURRENCY", "ROLLWAVE_LEASE") {
			if v, ok := env[name]; ok {
				t.Errorf("with the inputs unset, the %s gets %s=%q, want it unset (the code's default)", worker, name, v)
			}
		}
	}
	all := []string{"drainer", "patcher", "scanner", "verifier"}
	budgeted := []string{"drainer", "patcher", "verifier"} // every worker that counts failures
	obj := func(kv ...any) cty.Value {
		m := map[string]cty.Value{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(cty.Value)
		}
		return cty.ObjectVal(m)
	}
	policies := obj("ci", obj("standaloneTasks", cty.StringVal("stop")))
	tests := []struct {
		input   string
		value   cty.Value
		workers []string
		want    map[string]string
	}{
		{"max_out_of_service", cty.StringVal("20%"), []string{"drainer", "patcher"}, map[string]string{"ROLLWAVE_MAX_OUT_OF_SERVICE": "20%"}},
		{"global_max_out_of_service", cty.NumberIntVal(5), []string{"drainer"}, map[string]string{"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE": "5"}},
		{"global_max_out_of_service", cty.NumberIntVal(0), []string{"drainer"}, map[string]string{"ROLLWAVE_GLOBAL_MAX_OUT_OF_SERVICE": "0"}},
		{"capacity_check", cty.False, []string{"drainer"}, map[string]string{"ROLLWAVE_CAPACITY_CHECK": "false"}},
		{"health_gate", cty.False, []string{"drainer"}, map[string]string{"ROLLWAVE_HEALTH_GATE": "false"}},
		{"health_gate_timeout", cty.StringVal("20m"), []string{"drainer"}, map[string]string{"ROLLWAVE_HEALTH_GATE_TIMEOUT": "20m"}},
		{"maintenance_window", cty.StringVal("daily 02:00-04:30"), []string{"drainer"}, map[string]string{"ROLLWAVE_MAINTENANCE_WINDOW": "daily 02:00-04:30"}},
		{"standalone_tasks", cty.StringVal("stop"), []string{"drainer", "patcher"}, map[string]string{"ROLLWAVE_STANDALONE_TASKS": "stop"}},
		{"standalone_deadline", cty.StringVal("4h"), []string{"drainer"}, map[string]string{"ROLLWAVE_STANDALONE_DEADLINE": "4h"}},
		{"standalone_grace", cty.StringVal("5m"), []string{"drainer"}, map[string]string{"ROLLWAVE_STANDALONE_GRACE": "5m"}},
		{"rollback", cty.True, []string{"drainer"}, map[string]string{"ROLLWAVE_ROLLBACK": "true"}},
		{"on_verify_failure", cty.StringVal("return"), []string{"verifier"}, map[string]string{"ROLLWAVE_ON_VERIFY_FAILURE": "return"}},
		{"error_budget", obj("failures", cty.NumberIntVal(8), "window", cty.StringVal("2h")), budgeted, map[string]string{"ROLLWAVE_ERROR_BUDGET_FAILURES": "8", "ROLLWAVE_ERROR_BUDGET_WINDOW": "2h"}},
		{"error_budget", obj("failures", cty.NumberIntVal(3), "window", cty.NullVal(cty.String)), budgeted, map[string]string{"ROLLWAVE_ERROR_BUDGET_FAILURES": "3"}},
		{"cluster_policies", policies, budgeted, map[string]string{"ROLLWAVE_CLUSTER_POLICIES": `{"ci":{"standaloneTasks":"stop"}}`}},
		{"metrics", cty.False, all, map[string]string{"ROLLWAVE_METRICS": "off"}},
		{"metrics", cty.True, all, map[string]string{"ROLLWAVE_METRICS": "on"}},
		{"dry_run", cty.True, all, map[string]string{"ROLLWAVE_DRY_RUN": "true"}},
		{"visibility_timeout", cty.StringVal("90s"), all, map[string]string{"ROLLWAVE_VISIBILITY_TIMEOUT": "90s"}},
		{"reboot_grace", cty.StringVal("2m"), []string{"verifier"}, map[string]string{"ROLLWAVE_REBOOT_GRACE": "2m"}},
		{"waiting_threshold", cty.StringVal("1h"), []string{"drainer", "patcher"}, map[string]string{"ROLLWAVE_WAITING_THRESHOLD": "1h"}},
		{"target_version", cty.StringVal("1.20"), []string{"scanner"}, map[string]string{"ROLLWAVE_TARGET_VERSION": "1.20"}},
		{"launch_templates", cty.StringVal("update"), []string{"scanner"}, map[string]string{"ROLLWAVE_LAUNCH_TEMPLATES": "update"}},
		{"alarm_names", cty.ListVal([]cty.Value{cty.StringVal("web-5xx"), cty.StringVal("api-latency")}), []string{"drainer"}, map[string]string{"ROLLWAVE_ALARM_NAMES": "web-5xx,api-latency"}},
		{"alarm_prefix", cty.StringVal("prod-"), []string{"drainer"}, map[string]string{"ROLLWAVE_ALARM_PREFIX": "prod-"}},
		{"alarm_halt", cty.StringVal("stay"), []string{"drainer"}, map[string]string{"ROLLWAVE_ALARM_HALT": "stay"}},
		{"stages", stagesVal(stageVal("staging", "30m", "staging"), stageVal("prod", "", "prod-eu", "prod-us")), []string{"drainer", "scanner"},
			map[string]string{"ROLLWAVE_STAGES": `[{"bake":"30m","clusters":["staging"],"name":"staging"},{"bake":"0s","clusters":["prod-eu","prod-us"],"name":"prod"}]`}},
		{"lease", cty.StringVal("2h"), all, map[string]string{"ROLLWAVE_LEASE": "2h"}},
		{"concurrency", obj("scanner", cty.NullVal(cty.Number), "patcher", cty.NullVal(cty.Number), "reboot", cty.NullVal(cty.Number), "drainer", cty.NumberIntVal(8), "verifier", cty.NullVal(cty.Number)), []string{"drainer"}, map[string]string{"ROLLWAVE_CONCURRENCY": "8"}},
		{"concurrency", obj("scanner", cty.NumberIntVal(2), "patcher", cty.NumberIntVal(3), "reboot", cty.NullVal(cty.Number), "drainer", cty.NullVal(cty.Number), "verifier", cty.NullVal(cty.Number)), []string{"patcher", "scanner"}, nil},
		{"concurrency", obj("scanner", cty.NullVal(cty.Number), "patcher", cty.NullVal(cty.Number), "reboot", cty.NumberIntVal(64), "drainer", cty.NullVal(cty.Number), "verifier", cty.NullVal(cty.Number)), []string{"patcher"}, map[string]string{"ROLLWAVE_REBOOT_CONCURRENCY": "64"}},
	}
	reads := workerSettings(t)
	for _, tc := range tests {
		vars := moduleDefaults()
		if _, ok := vars[tc.input]; !ok {
			t.Fatalf("the test has no default for input %s", tc.input)
		}
		vars[tc.input] = tc.value
		got := workerEnvironment(t, m, vars)
		for _, w := range all {
			changed := map[string]string{}
			for k, v := range got[w] {
				if base[w][k] != v {
					changed[k] = v
				}
			}
			var want map[string]string
			if contains(tc.workers, w) {
				want = tc.want
			}
			if tc.input == "concurrency" && tc.want == nil && contains(tc.workers, w) { // a different count per worker
				want = map[string]string{"ROLLWAVE_CONCURRENCY": map[string]string{"patcher": "3", "scanner": "2", "drainer": "8"}[w]}
			}
			if want == nil {
				want = map[string]string{}
			}
			if diff := cmp.Diff(want, changed); diff != "" {
				t.Errorf("%s = %#v: the %s's environment changed (-want +got):\n%s", tc.input, tc.value, w, diff)
			}
			for k := range changed {
				if !contains(reads[w], k) {
					t.Errorf("%s sets %s in the %s, whose code does not read it", tc.input, k, w)
				}
			}
		}
	}
}

// exampleClusterPolicies returns the cluster_policies value of examples/complete as Terraform
// reads it.
func exampleClusterPolicies(t *testing.T) cty.Value {
	t.Helper()
	path := repoRoot + "/terraform/examples/complete/main.tf"
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %v", path, diags)
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "module" && len(b.Labels) == 1 && b.Labels[0] == "rollwave" {
			a, ok := b.Body.Attributes["cluster_policies"]
			if !ok {
				t.Fatalf("%s: module rollwave sets no cluster_policies", path)
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("evaluate the example's cluster_policies: %v", diags)
			}
			return v
		}
	}
	t.Fatalf("%s: no module rollwave", path)
	return cty.NilVal
}

// loadRendered runs shared/policy's loader on the environment the module gives the drainer.
func loadRendered(t *testing.T, env map[string]string) (policy.Set, error) {
	t.Helper()
	return policy.Load(func(k string) string { return env[k] })
}

// TestTerraformClusterPoliciesLoad renders the example's cluster_policies through the module's
// jsonencode and checks that shared/policy's loader (which refuses unknown fields) reads every
// override the example sets into the policy it means.
func TestTerraformClusterPoliciesLoad(t *testing.T) {
	m := loadModule(t)
	vars := moduleDefaults()
	vars["cluster_policies"] = exampleClusterPolicies(t)
	env := workerEnvironment(t, m, vars)
	for _, w := range []string{"patcher", "drainer", "verifier"} {
		if env[w]["ROLLWAVE_CLUSTER_POLICIES"] != env["drainer"]["ROLLWAVE_CLUSTER_POLICIES"] {
			t.Errorf("the %s's ROLLWAVE_CLUSTER_POLICIES differs from the drainer's", w)
		}
	}
	raw := env["drainer"]["ROLLWAVE_CLUSTER_POLICIES"]
	set, err := loadRendered(t, env["drainer"])
	if err != nil {
		t.Fatalf("policy.Load(ROLLWAVE_CLUSTER_POLICIES=%s) = %v, want the example's policies", raw, err)
	}
	d := set.Default
	limit := func(s string) update.Limit {
		l, err := update.ParseLimit(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	window := func(s string) update.Window {
		w, err := update.ParseWindow(s)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	prod, staging := d, d
	prod.MaxOutOfService, prod.HealthGateTimeout, prod.Rollback = limit("20%"), 20*time.Minute, true
	staging.Window, staging.Standalone, staging.StandaloneGrace, staging.CheckCapacity = window("daily 00:00-24:00"), update.StandaloneStop, 5*time.Minute, false
	staging.ErrorBudget = policy.ErrorBudget{Failures: 3, Window: 2 * time.Hour}
	want := map[string]policy.Policy{"prod": prod, "staging": staging}
	opts := cmp.Exporter(func(reflect.Type) bool { return true })
	if diff := cmp.Diff(want, set.Clusters, opts); diff != "" {
		t.Errorf("policy.Load(%s): clusters (-want +got):\n%s", raw, diff)
	}

	// A field name that drifted is refused by the loader, so the comparison above cannot pass
	// with a misspelled example.
	vars["cluster_policies"] = cty.ObjectVal(map[string]cty.Value{"prod": cty.ObjectVal(map[string]cty.Value{"maxOutOfServices": cty.StringVal("2")})})
	if _, err := loadRendered(t, workerEnvironment(t, m, vars)["drainer"]); err == nil {
		t.Error("policy.Load accepted the unknown field maxOutOfServices")
	}
}

// overrideSamples holds a valid value of every field of policy.Override, by JSON name.
var overrideSamples = map[string]cty.Value{
	"maxOutOfService":    cty.StringVal("20%"),
	"capacityCheck":      cty.False,
	"healthGate":         cty.False,
	"healthGateTimeout":  cty.StringVal("20m"),
	"maintenanceWindow":  cty.StringVal("Mon-Fri 22:00-06:00 Europe/Berlin"),
	"standaloneTasks":    cty.StringVal("wait"),
	"standaloneDeadline": cty.StringVal("4h"),
	"standaloneGrace":    cty.StringVal("1.5m"),
	"rollback":           cty.True,
	"onVerifyFailure":    cty.StringVal("return"),
	"errorBudget":        cty.ObjectVal(map[string]cty.Value{"failures": cty.NumberIntVal(8), "window": cty.StringVal("2h")}),
	"alarmNames":         cty.TupleVal([]cty.Value{cty.StringVal("api-5xx"), cty.StringVal("api-p99-latency")}),
	"alarmPrefix":        cty.StringVal("prod-slo-"),
}

// validations evaluates every validation condition of variable name for value and returns the
// error messages of those that fail.
func validations(t *testing.T, m tfModule, name string, value cty.Value) []string {
	t.Helper()
	vars := moduleDefaults()
	vars[name] = value
	return validationsWith(t, m, name, vars)
}

// validationsWith is validations with every input given, for conditions that read other inputs.
func validationsWith(t *testing.T, m tfModule, name string, vars map[string]cty.Value) []string {
	t.Helper()
	b := m.block(t, "variable", name)
	value := vars[name]
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: tfFunctions}
	var failed []string
	n := 0
	for _, v := range b.Body.Blocks {
		if v.Type != "validation" {
			continue
		}
		n++
		ok, diags := v.Body.Attributes["condition"].Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("variable %s: evaluate a condition for %#v: %v", name, value, diags)
		}
		if ok.IsNull() || !ok.True() {
			msg, _ := v.Body.Attributes["error_message"].Expr.Value(nil)
			failed = append(failed, msg.AsString())
		}
	}
	if n == 0 {
		t.Fatalf("variable %s has no validation", name)
	}
	return failed
}

// TestTerraformClusterPoliciesValidation checks that the module's validation accepts every field
// shared/policy's Override has (found by reflection, so a field added to the code without a sample
// here or a name in the module fails), that such a value loads, and that it refuses what the
// loader would refuse at start.
func TestTerraformClusterPoliciesValidation(t *testing.T) {
	m := loadModule(t)
	full := map[string]cty.Value{}
	ot := reflect.TypeOf(policy.Override{})
	for i := range ot.NumField() {
		name, _, _ := strings.Cut(ot.Field(i).Tag.Get("json"), ",")
		v, ok := overrideSamples[name]
		if !ok {
			t.Fatalf("policy.Override has field %s, which the test has no sample of: add one, and the field to variable cluster_policies", name)
		}
		full[name] = v
	}
	if len(full) != len(overrideSamples) {
		t.Errorf("the test has samples of %d fields, policy.Override %d", len(overrideSamples), len(full))
	}
	value := cty.ObjectVal(map[string]cty.Value{"prod": cty.ObjectVal(full)})
	if failed := validations(t, m, "cluster_policies", value); len(failed) > 0 {
		t.Errorf("cluster_policies with every field of policy.Override: validation failed: %q", failed)
	}
	vars := moduleDefaults()
	vars["cluster_policies"] = value
	if _, err := loadRendered(t, workerEnvironment(t, m, vars)["drainer"]); err != nil {
		t.Errorf("policy.Load of every field rendered by the module = %v, want nil", err)
	}

	override := func(field string, v cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"prod": cty.ObjectVal(map[string]cty.Value{field: v})})
	}
	bad := []struct {
		what  string
		value cty.Value
	}{
		{"unknown field", override("maxOutOfServices", cty.StringVal("2"))},
		{"bool as a string", override("rollback", cty.StringVal("true"))},
		{"count as a number", override("maxOutOfService", cty.NumberIntVal(2))},
		{"zero count", override("maxOutOfService", cty.StringVal("0"))},
		{"percentage over 100", override("maxOutOfService", cty.StringVal("101%"))},
		{"unknown standalone policy", override("standaloneTasks", cty.StringVal("kill"))},
		{"a verify failure policy of an earlier release", override("onVerifyFailure", cty.StringVal("reactivate"))},
		{"a verify failure policy that is not a string", override("onVerifyFailure", cty.True)},
		{"duration without unit", override("standaloneGrace", cty.StringVal("5"))},
		{"zero duration", override("healthGateTimeout", cty.StringVal("0s"))},
		{"negative duration", override("standaloneDeadline", cty.StringVal("-1h"))},
		{"no window", override("maintenanceWindow", cty.StringVal("weekends"))},
		{"nine failures", override("errorBudget", cty.ObjectVal(map[string]cty.Value{"failures": cty.NumberIntVal(9)}))},
		{"zero failures", override("errorBudget", cty.ObjectVal(map[string]cty.Value{"failures": cty.NumberIntVal(0)}))},
		{"unknown budget field", override("errorBudget", cty.ObjectVal(map[string]cty.Value{"failure": cty.NumberIntVal(2)}))},
		{"not an object", cty.ObjectVal(map[string]cty.Value{"prod": cty.StringVal("stop")})},
		{"a field name in the wrong case", override("maxOutofService", cty.StringVal("2"))},
		{"an alarm name that is empty", override("alarmNames", cty.TupleVal([]cty.Value{cty.StringVal("api-5xx"), cty.StringVal(" ")}))},
		{"an alarm named twice", override("alarmNames", cty.TupleVal([]cty.Value{cty.StringVal("api-5xx"), cty.StringVal("api-5xx")}))},
		{"alarm names as one string", override("alarmNames", cty.StringVal("api-5xx"))},
		{"an empty alarm prefix", override("alarmPrefix", cty.StringVal(""))},
		{"an alarm prefix that is not a string", override("alarmPrefix", cty.TupleVal([]cty.Value{cty.StringVal("api-")}))},
	}
	for _, tc := range bad {
		if failed := validations(t, m, "cluster_policies", tc.value); len(failed) == 0 {
			t.Errorf("cluster_policies with %s (%#v): validation passed, want it refused", tc.what, tc.value)
		}
		vars["cluster_policies"] = tc.value
		if _, err := loadRendered(t, workerEnvironment(t, m, vars)["drainer"]); err == nil {
			t.Errorf("cluster_policies with %s: policy.Load accepted it, so the validation refuses what the workers take", tc.what)
		}
	}
}

// stageType is the type of one element of the stages input.
var stageType = cty.Object(map[string]cty.Type{"name": cty.String, "clusters": cty.List(cty.String), "bake": cty.String})

// stageVal is one stage of the stages input; bake "" is left out (null).
func stageVal(name, bake string, clusters ...string) cty.Value {
	b := cty.NullVal(cty.String)
	if bake != "" {
		b = cty.StringVal(bake)
	}
	cs := cty.ListValEmpty(cty.String)
	if len(clusters) > 0 {
		var vs []cty.Value
		for _, c := range clusters {
			vs = append(vs, cty.StringVal(c))
		}
		cs = cty.ListVal(vs)
	}
	return cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(name), "clusters": cs, "bake": b})
}

// stagesVal is the stages input of the stages given.
func stagesVal(stages ...cty.Value) cty.Value { return cty.ListVal(stages) }

// TestTerraformPolicyInputValidation checks the validations of the single-valued inputs against
// the loaders the workers run: a value the module accepts loads, one it refuses does not.
func TestTerraformPolicyInputValidation(t *testing.T) {
	m := loadModule(t)
	tests := []struct {
		input string
		value cty.Value
		ok    bool
	}{
		{"max_out_of_service", cty.StringVal("100%"), true},
		{"max_out_of_service", cty.StringVal("0"), false},
		{"global_max_out_of_service", cty.NumberIntVal(0), true},
		{"global_max_out_of_service", cty.NumberIntVal(-1), false},
		{"health_gate_timeout", cty.StringVal("1h30m"), true},
		{"health_gate_timeout", cty.StringVal("15"), false},
		{"standalone_deadline", cty.StringVal("0h"), false},
		{"standalone_grace", cty.StringVal(".5h"), true},
		{"standalone_tasks", cty.StringVal("stop"), true},
		{"standalone_tasks", cty.StringVal("kill"), false},
		{"on_verify_failure", cty.StringVal("return"), true},
		{"on_verify_failure", cty.StringVal("keep-out"), false},
		{"reboot_grace", cty.StringVal("90s"), true},
		{"alarm_halt", cty.StringVal("stay"), true},
		{"alarm_halt", cty.StringVal("halt"), false},
		{"target_version", cty.StringVal("latest"), true},
		{"target_version", cty.StringVal("1.20"), true},
		{"target_version", cty.StringVal("1.21.0-rc.1"), true},
		{"target_version", cty.StringVal("v1.20.3"), false},
		{"target_version", cty.StringVal("1"), false},
		{"target_version", cty.StringVal("newest"), false},
		{"launch_templates", cty.StringVal("update"), true},
		{"launch_templates", cty.StringVal("fix"), false},
		{"waiting_threshold", cty.StringVal("1h30m"), true},
		{"waiting_threshold", cty.StringVal("1s"), true},
		{"waiting_threshold", cty.StringVal("500ms"), false},
		{"waiting_threshold", cty.StringVal("0s"), false},
		{"waiting_threshold", cty.StringVal("15"), false},
		{"visibility_timeout", cty.StringVal("2 m"), false},
		{"lease", cty.StringVal("90m"), true},
		{"lease", cty.StringVal("0h"), false},
		{"lease", cty.StringVal("1 h"), false},
		{"maintenance_window", cty.StringVal("daily 02:00-04:30"), true},
		{"stages", stagesVal(stageVal("staging", "30m", "staging"), stageVal("prod", "", "prod")), true},
		{"stages", stagesVal(stageVal("staging", "1h30m", "staging")), true},
		{"stages", stagesVal(stageVal("staging", "soon", "staging")), false},
		{"stages", stagesVal(stageVal("staging", "30m", "staging"), stageVal("staging", "", "prod")), false},
		{"stages", stagesVal(stageVal("staging", "30m", "a"), stageVal("prod", "", "a")), false},
		{"stages", stagesVal(stageVal("bad name", "30m", "a")), false},
		{"stages", stagesVal(stageVal("empty", "30m")), false},
		{"error_budget", cty.ObjectVal(map[string]cty.Value{"failures": cty.NumberIntVal(8), "window": cty.NullVal(cty.String)}), true},
		{"error_budget", cty.ObjectVal(map[string]cty.Value{"failures": cty.NumberIntVal(9), "window": cty.NullVal(cty.String)}), false},
		{"error_budget", cty.ObjectVal(map[string]cty.Value{"failures": cty.NullVal(cty.Number), "window": cty.StringVal("1d")}), false},
	}
	for _, tc := range tests {
		failed := validations(t, m, tc.input, tc.value)
		if got := len(failed) == 0; got != tc.ok {
			t.Errorf("%s = %#v: validation passed %v, want %v (%q)", tc.input, tc.value, got, tc.ok, failed)
		}
		vars := moduleDefaults()
		vars[tc.input] = tc.value
		env := workerEnvironment(t, m, vars)
		var errs []error
		for _, w := range []string{"drainer", "verifier"} {
			if _, err := loadRendered(t, env[w]); err != nil {
				errs = append(errs, err)
			}
			if v := env[w]["ROLLWAVE_VISIBILITY_TIMEOUT"] + env[w]["ROLLWAVE_REBOOT_GRACE"] + env[w]["ROLLWAVE_LEASE"]; v != "" {
				if d, err := time.ParseDuration(v); err != nil || d <= 0 {
					errs = append(errs, errors.New("bad duration "+v))
				}
			}
			// The drainer refuses a waiting threshold below 1s (services/drainer/drain/config.go).
			if v := env[w]["ROLLWAVE_WAITING_THRESHOLD"]; v != "" {
				if d, err := time.ParseDuration(v); err != nil || d < time.Second {
					errs = append(errs, errors.New("bad waiting threshold "+v))
				}
			}
		}
		// The drainer refuses an alarm halt other than resume or stay (services/drainer/drain/config.go).
		if v := env["drainer"]["ROLLWAVE_ALARM_HALT"]; v != "" && v != "resume" && v != "stay" {
			errs = append(errs, errors.New("bad alarm halt "+v))
		}
		// The scanner and the drainer refuse a plan they cannot read (shared/promotion).
		for _, w := range []string{"scanner", "drainer"} {
			if v := env[w]["ROLLWAVE_STAGES"]; v != "" {
				if _, err := promotion.ParsePlan(v); err != nil {
					errs = append(errs, err)
				}
			}
		}
		// The scanner refuses a target it cannot read (services/scanner/scan/config.go).
		if v := env["scanner"]["ROLLWAVE_TARGET_VERSION"]; v != "" {
			if _, err := update.ParseTarget(v); err != nil {
				errs = append(errs, err)
			}
		}
		// The scanner refuses a launch template mode other than off, report or update.
		if v := env["scanner"]["ROLLWAVE_LAUNCH_TEMPLATES"]; v != "" {
			if _, err := launchtemplate.ParseMode(v); err != nil {
				errs = append(errs, err)
			}
		}
		if got := len(errs) == 0; got != tc.ok {
			t.Errorf("%s = %#v: the workers load it %v, want %v: %v", tc.input, tc.value, got, tc.ok, errs)
		}
	}
}
