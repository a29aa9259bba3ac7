package deploy

import (
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var workers = []string{"scanner", "patcher", "drainer", "verifier"}

// TestTaskRoleActionsAreTheCallsOfTheCode derives each worker's AWS calls from its code and
// compares them with TaskRoleActions: a worker that starts calling an API its role does not grant
// fails here.
func TestTaskRoleActionsAreTheCallsOfTheCode(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, w := range workers {
		patterns = append(patterns, "../"+w)
	}
	calls, err := SDKCalls("../services/scanner", patterns...)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		got := calls["github.com/rollwave/rollwave/services/"+w]
		want := sorted(TaskRoleActions[w])
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("SDKCalls(services/%s) = the calls of the code, TaskRoleActions[%q] = the grants (-grants +calls):\n%s", w, w, diff)
		}
	}
}

// TestSDKCallsFollowsInterfaces checks the analysis on a small program: a call through a narrow
// interface reaches the SDK method, an adapter method nobody calls does not count.
func TestSDKCallsFollowsInterfaces(t *testing.T) {
	t.Parallel()
	calls, err := SDKCalls("testdata/sdkcalls", ".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"events:PutEvents", "sqs:SendMessage"}
	if diff := cmp.Diff(want, calls["github.com/rollwave/rollwave/deploy/testdata/sdkcalls"]); diff != "" {
		t.Errorf("SDKCalls(testdata/sdkcalls) (-want +got):\n%s", diff)
	}
}

// TestTerraformGrantsExactlyTheTaskRoleActions reads each worker's policy document in iam.tf:
// its actions are TaskRoleActions, and a statement on "*" without a condition holds only
// actions that AWS cannot scope.
func TestTerraformGrantsExactlyTheTaskRoleActions(t *testing.T) {
	m := loadModule(t)
	for _, w := range workers {
		doc := m.block(t, "data", "aws_iam_policy_document", w)
		granted := map[string]bool{}
		for _, st := range doc.Body.Blocks {
			if st.Type != "statement" {
				t.Errorf("%s policy: %s block: write statements out so they can be read", w, st.Type)
				continue
			}
			if effect, ok := st.Body.Attributes["effect"]; ok {
				if v, _ := effect.Expr.Value(nil); v.AsString() != "Allow" {
					t.Errorf("%s policy: effect %s in a task role", w, v.AsString())
				}
			}
			actions := literalStrings(t, w, st.Body.Attributes["actions"])
			for _, a := range actions {
				granted[a] = true
			}
			resources, ok := st.Body.Attributes["resources"]
			if !ok {
				t.Errorf("%s policy: statement without resources", w)
				continue
			}
			star := false
			if v, diags := resources.Expr.Value(nil); !diags.HasErrors() && v.Type().IsTupleType() {
				for _, r := range v.AsValueSlice() {
					star = star || (r.Type() == cty.String && r.AsString() == "*")
				}
			}
			conditioned := false
			for _, b := range st.Body.Blocks {
				conditioned = conditioned || b.Type == "condition"
			}
			if star && !conditioned {
				for _, a := range actions {
					if _, ok := Unscopable[a]; !ok {
						t.Errorf("%s policy grants %s on \"*\" without a condition; scope it or list it in Unscopable with the reason", w, a)
					}
				}
			}
		}
		var got []string
		for a := range granted {
			got = append(got, a)
		}
		sort.Strings(got)
		if diff := cmp.Diff(sorted(TaskRoleActions[w]), got); diff != "" {
			t.Errorf("iam.tf data.aws_iam_policy_document.%s grants (-TaskRoleActions +terraform):\n%s", w, diff)
		}
	}
}

func literalStrings(t *testing.T, w string, a *hclsyntax.Attribute) []string {
	t.Helper()
	if a == nil {
		t.Errorf("%s policy: statement without actions", w)
		return nil
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Errorf("%s policy: actions at %s must be a literal list: %v", w, a.Range(), diags)
		return nil
	}
	var out []string
	for _, s := range v.AsValueSlice() {
		out = append(out, s.AsString())
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestTerraformScopesRolesToTheClusters evaluates the module's cluster scope (main.tf) and every
// ecs:cluster condition of iam.tf: without cluster_tag, the listed clusters exactly (ArnEquals);
// with it, every cluster of the account and region (ArnLike cluster/*), because IAM cannot follow
// a cluster's tag to its container instances and tasks.
func TestTerraformScopesRolesToTheClusters(t *testing.T) {
	m := loadModule(t)
	var main *hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == "locals" {
			if _, ok := b.Body.Attributes["cluster_arns"]; ok {
				main = b
			}
		}
	}
	if main == nil {
		t.Fatal("no local cluster_arns")
	}
	const arn = "arn:aws:ecs:" + testRegion + ":" + testAccount + ":"
	for _, tc := range []struct {
		tag                      string
		wantTest                 string
		wantClusters, wantMarked []string
	}{
		{tag: "", wantTest: "ArnEquals",
			wantClusters: []string{arn + "cluster/prod", arn + "cluster/staging"},
			wantMarked:   []string{arn + "container-instance/prod/*", arn + "container-instance/staging/*"}},
		{tag: "rollwave=on", wantTest: "ArnLike",
			wantClusters: []string{arn + "cluster/*"}, wantMarked: []string{arn + "container-instance/*"}},
	} {
		t.Run("cluster_tag="+tc.tag, func(t *testing.T) {
			locals := map[string]cty.Value{"partition": cty.StringVal("aws"), "region": cty.StringVal(testRegion), "account": cty.StringVal(testAccount)}
			ctx := func() *hcl.EvalContext {
				return &hcl.EvalContext{Variables: map[string]cty.Value{
					"var": cty.ObjectVal(map[string]cty.Value{
						"clusters":    cty.TupleVal([]cty.Value{cty.StringVal("prod"), cty.StringVal("staging")}),
						"cluster_tag": cty.StringVal(tc.tag),
					}),
					"local": cty.ObjectVal(locals),
				}}
			}
			for _, name := range []string{"any_cluster", "cluster_condition", "cluster_arns", "container_instance_arns"} {
				v, diags := main.Body.Attributes[name].Expr.Value(ctx())
				if diags.HasErrors() {
					t.Fatalf("evaluate local.%s: %v", name, diags)
				}
				locals[name] = v
			}
			strs := func(v cty.Value) []string {
				var out []string
				for _, x := range v.AsValueSlice() {
					out = append(out, x.AsString())
				}
				return out
			}
			if diff := cmp.Diff(tc.wantClusters, strs(locals["cluster_arns"])); diff != "" {
				t.Errorf("local.cluster_arns (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMarked, strs(locals["container_instance_arns"])); diff != "" {
				t.Errorf("local.container_instance_arns (-want +got):\n%s", diff)
			}
			n := 0
			for _, w := range workers {
				for _, st := range m.block(t, "data", "aws_iam_policy_document", w).Body.Blocks {
					for _, c := range st.Body.Blocks {
						if c.Type != "condition" {
							continue
						}
						if v, _ := c.Body.Attributes["variable"].Expr.Value(nil); v.AsString() != "ecs:cluster" {
							continue
						}
						n++
						test, d1 := c.Body.Attributes["test"].Expr.Value(ctx())
						values, d2 := c.Body.Attributes["values"].Expr.Value(ctx())
						if d1.HasErrors() || d2.HasErrors() {
							t.Fatalf("%s policy: evaluate ecs:cluster condition: %v %v", w, d1, d2)
						}
						if test.AsString() != tc.wantTest || !cmp.Equal(strs(values), tc.wantClusters) {
							t.Errorf("%s policy: ecs:cluster condition %s %v, want %s %v", w, test.AsString(), strs(values), tc.wantTest, tc.wantClusters)
						}
					}
				}
			}
			if n == 0 {
				t.Error("no ecs:cluster condition in any policy")
			}
		})
	}
}

// TestTerraformSendCommandOnTaggedInstances evaluates every ssm:SendCommand statement of the task
// roles: one names only rollwave's documents, the other only the instances, and those carry the
// condition ssm:resourceTag/KEY = VALUE of instance_tag, or none when instance_tag is "*", the
// explicit choice of every instance of the account and region.
func TestTerraformSendCommandOnTaggedInstances(t *testing.T) {
	m := loadModule(t)
	const instances = "arn:aws:ec2:" + testRegion + ":" + testAccount + ":instance/*"
	for _, tc := range []struct {
		tag  string
		want []string // test, variable, values... of the instance statement's conditions
	}{
		{"rollwave=managed", []string{"StringEquals", "ssm:resourceTag/rollwave", "managed"}},
		{"team=platform=a", []string{"StringEquals", "ssm:resourceTag/team", "platform=a"}},
		{"*", nil},
	} {
		t.Run("instance_tag="+tc.tag, func(t *testing.T) {
			vars := moduleDefaults()
			vars["instance_tag"] = cty.StringVal(tc.tag)
			if failed := validationsWith(t, m, "instance_tag", vars); len(failed) > 0 {
				t.Fatalf("instance_tag %q refused: %q", tc.tag, failed)
			}
			docs := map[string]cty.Value{}
			for _, k := range []string{"update-check", "update-apply", "update-cancel", "reboot", "version-lock"} {
				docs[k] = cty.StringVal("arn:aws:ssm:" + testRegion + ":" + testAccount + ":document/rollwave-" + k)
			}
			locals := map[string]cty.Value{"any_instance_arn": cty.StringVal(instances), "document_arns": cty.ObjectVal(docs)}
			ctx := func(extra map[string]cty.Value) *hcl.EvalContext {
				v := map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.ObjectVal(locals)}
				for k, x := range extra {
					v[k] = x
				}
				return &hcl.EvalContext{Variables: v, Functions: tfFunctions}
			}
			cond, diags := m.localExpr(t, "instance_condition").Value(ctx(nil))
			if diags.HasErrors() {
				t.Fatalf("evaluate local.instance_condition: %v", diags)
			}
			locals["instance_condition"] = cond
			for _, w := range workers {
				n := 0
				for _, st := range m.block(t, "data", "aws_iam_policy_document", w).Body.Blocks {
					actions := literalStrings(t, w, st.Body.Attributes["actions"])
					if !slices.Contains(actions, "ssm:SendCommand") {
						continue
					}
					if len(actions) != 1 {
						t.Errorf("%s policy: ssm:SendCommand shares a statement with %v", w, actions)
					}
					res, diags := st.Body.Attributes["resources"].Expr.Value(ctx(nil))
					if diags.HasErrors() {
						t.Fatalf("%s policy: evaluate resources: %v", w, diags)
					}
					var conds []string
					for _, b := range st.Body.Blocks {
						switch {
						case b.Type == "condition":
							t.Errorf("%s policy: a fixed condition on ssm:SendCommand; the instance condition follows instance_tag", w)
						case b.Type == "dynamic" && b.Labels[0] == "condition":
							items, diags := b.Body.Attributes["for_each"].Expr.Value(ctx(nil))
							if diags.HasErrors() {
								t.Fatalf("%s policy: evaluate the condition's for_each: %v", w, diags)
							}
							content := b.Body.Blocks[0].Body
							for it := items.ElementIterator(); it.Next(); {
								_, item := it.Element()
								c := ctx(map[string]cty.Value{"condition": cty.ObjectVal(map[string]cty.Value{"value": item})})
								for _, a := range []string{"test", "variable", "values"} {
									v, diags := content.Attributes[a].Expr.Value(c)
									if diags.HasErrors() {
										t.Fatalf("%s policy: evaluate condition %s: %v", w, a, diags)
									}
									if v.Type() == cty.String {
										conds = append(conds, v.AsString())
										continue
									}
									for _, x := range v.AsValueSlice() {
										conds = append(conds, x.AsString())
									}
								}
							}
						}
					}
					var onInstances, onDocuments bool
					for _, r := range res.AsValueSlice() {
						if r.AsString() == instances {
							onInstances = true
						} else {
							onDocuments = true
						}
					}
					switch {
					case onInstances && onDocuments:
						t.Errorf("%s policy: ssm:SendCommand on documents and instances in one statement: the instance condition would not apply", w)
					case onInstances:
						n++
						if !cmp.Equal(tc.want, conds) {
							t.Errorf("%s policy: ssm:SendCommand on instances with conditions %q, want %q", w, conds, tc.want)
						}
					case len(conds) > 0:
						t.Errorf("%s policy: ssm:SendCommand on documents with conditions %q", w, conds)
					}
				}
				if n != 1 {
					t.Errorf("%s policy: %d ssm:SendCommand statements on instances, want 1", w, n)
				}
			}
		})
	}
	for _, bad := range []string{"", "rollwave", "=x", "*=x", "k="} {
		if failed := validations(t, m, "instance_tag", cty.StringVal(bad)); len(failed) == 0 {
			t.Errorf("instance_tag %q accepted, want it refused", bad)
		}
	}
}
