package deploy

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// TestTerraformNarrowsListInstancesToTheTaggedClusters evaluates every ecs:ListContainerInstances
// statement of the task roles: with cluster_tag alone, the one ECS action whose resource is the
// cluster itself is held to the tagged clusters by aws:ResourceTag; with listed clusters (alone or
// beside the tag) it carries no tag condition, since one statement cannot say "listed or tagged".
// The rest is the workers' own boundary (shared/managed).
func TestTerraformNarrowsListInstancesToTheTaggedClusters(t *testing.T) {
	m := loadModule(t)
	for _, tc := range []struct {
		name     string
		tag      string
		clusters []string
		want     []string // test, variable, values... of the statement's conditions
	}{
		{"listed clusters", "", []string{"prod"}, nil},
		{"a tag with a value", "rollwave=on", nil, []string{"StringEquals", "aws:ResourceTag/rollwave", "on"}},
		{"a tag with any value", "rollwave", nil, []string{"Null", "aws:ResourceTag/rollwave", "false"}},
		{"a value holding =", "team=a=b", nil, []string{"StringEquals", "aws:ResourceTag/team", "a=b"}},
		{"a tag and listed clusters", "rollwave=on", []string{"prod"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := moduleDefaults()
			vars["cluster_tag"] = cty.StringVal(tc.tag)
			listed := []cty.Value{}
			for _, c := range tc.clusters {
				listed = append(listed, cty.StringVal(c))
			}
			vars["clusters"] = cty.TupleVal(listed)
			locals := map[string]cty.Value{}
			ctx := func(extra map[string]cty.Value) *hcl.EvalContext {
				v := map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.ObjectVal(locals)}
				for k, x := range extra {
					v[k] = x
				}
				return &hcl.EvalContext{Variables: v, Functions: tfFunctions}
			}
			cond, diags := m.localExpr(t, "cluster_tag_condition").Value(ctx(nil))
			if diags.HasErrors() {
				t.Fatalf("evaluate local.cluster_tag_condition: %v", diags)
			}
			locals["cluster_tag_condition"] = cond
			for _, w := range workers {
				n := 0
				for _, st := range m.block(t, "data", "aws_iam_policy_document", w).Body.Blocks {
					if !slices.Contains(literalStrings(t, w, st.Body.Attributes["actions"]), "ecs:ListContainerInstances") {
						continue
					}
					n++
					var conds []string
					for _, b := range st.Body.Blocks {
						if b.Type != "dynamic" || b.Labels[0] != "condition" {
							t.Errorf("%s policy: ecs:ListContainerInstances has a %s block; want only the dynamic tag condition", w, b.Type)
							continue
						}
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
					if diff := cmp.Diff(tc.want, conds); diff != "" {
						t.Errorf("%s policy: ecs:ListContainerInstances conditions (-want +got):\n%s", w, diff)
					}
				}
				if n == 0 {
					t.Errorf("%s policy: no ecs:ListContainerInstances statement", w)
				}
			}
		})
	}
}
