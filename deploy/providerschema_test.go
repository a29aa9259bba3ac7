package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// The AWS provider's schema that scripts/deps.sh (make deps) fetches, and where the schema derived
// from it is cached. Both are under the git-ignored .cache/.
const (
	awsSchemaJSII  = repoRoot + "/.cache/aws-provider/provider-aws-19.65.1.jsii"
	awsSchemaCache = repoRoot + "/.cache/aws-provider/schema-19.65.1.json"
)

// loadAWSSchema reads the schema once for every test of the package; scripts/deps.sh has usually
// cached it already (deriving it under -race takes a minute).
var loadAWSSchema = sync.OnceValues(func() (*ProviderSchema, error) {
	if _, err := os.Stat(awsSchemaJSII); err != nil {
		return nil, fmt.Errorf("the AWS provider's schema is missing (make deps fetches it): %w", err)
	}
	return CachedProviderSchema(awsSchemaJSII, awsSchemaCache)
})

func awsSchema(t *testing.T) *ProviderSchema {
	t.Helper()
	s, err := loadAWSSchema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parseTF(t *testing.T, path string) *hclsyntax.Body {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %v", path, diags)
	}
	return f.Body.(*hclsyntax.Body)
}

func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	return out
}

// TestTerraformMatchesProviderSchema checks every resource, data source, nested block and
// provider block of every .tf file under terraform/ against the schema of the AWS provider the
// module pins: what terraform validate would refuse after terraform init, without the provider.
func TestTerraformMatchesProviderSchema(t *testing.T) {
	t.Parallel()
	s := awsSchema(t)
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
	checked := 0
	for _, f := range files {
		body := parseTF(t, f)
		for _, d := range CheckConfig(s, "aws_", body) {
			t.Errorf("%s: %s", d.Subject, d.Summary)
		}
		for _, b := range body.Blocks {
			if (b.Type == "resource" || b.Type == "data") && strings.HasPrefix(b.Labels[0], "aws_") {
				checked++
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked %d resources and data sources under terraform/, want the module's and examples' (20 or more)", checked)
	}
}

// TestTerraformPinsTheCheckedProvider holds the module and the examples to the provider version
// whose schema TestTerraformMatchesProviderSchema checks: the module admits only its patch
// releases (~> 5.99.1) and the examples pin it exactly.
func TestTerraformPinsTheCheckedProvider(t *testing.T) {
	t.Parallel()
	s := awsSchema(t)
	want := map[string]string{
		moduleDir: "~> " + s.Version,
		filepath.Join(repoRoot, "terraform", "examples", "complete"):   s.Version,
		filepath.Join(repoRoot, "terraform", "examples", "localstack"): s.Version,
	}
	for dir, constraint := range want {
		mod, diags := tfconfig.LoadModule(dir)
		if diags.HasErrors() {
			t.Fatalf("load %s: %v", dir, diags)
		}
		aws := mod.RequiredProviders["aws"]
		if aws == nil || !cmp.Equal(aws.VersionConstraints, []string{constraint}) {
			t.Errorf("%s: aws provider constraint %v, want [%s] (the version whose schema is checked)", dir, aws, constraint)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`checked against[^.]*` + regexp.QuoteMeta(s.Version)).Match(readme) {
		t.Errorf("terraform/README.md does not say the module is checked against the AWS provider %s", s.Version)
	}
}

// TestCheckConfig runs the check on small files, each with one kind of mistake, against the real
// AWS provider schema.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	s := awsSchema(t)
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"valid.tf", nil},
		{"misspelt.tf", []string{
			"resource aws_sqs_queue: unknown argument visibilty_timeout_seconds (did you mean visibility_timeout_seconds?)",
		}},
		{"nested.tf", []string{
			"data aws_iam_policy_document > statement > condition: unknown argument variabel (did you mean variable?)", //nolint:misspell // the fixture's typo, on purpose
			"data aws_iam_policy_document > statement > condition: missing required argument variable",
		}},
		{"block_as_attribute.tf", []string{
			"resource aws_cloudwatch_event_target: input_transformer is a block: write input_transformer { ... }, not input_transformer = ...",
		}},
		{"attribute_as_block.tf", []string{
			"resource aws_sqs_queue: tags is an argument: write tags = ..., not tags { ... }",
		}},
		{"missing_required.tf", []string{
			"resource aws_ecs_service > network_configuration: missing required argument subnets",
			"resource aws_ecs_service: missing required argument name",
			"resource aws_ecr_repository_policy: missing required argument policy",
		}},
		{"unknown_type.tf", []string{
			"unknown resource type aws_sqs_queues in provider 5.99.1",
			"unknown data source aws_iam_policy_documents in provider 5.99.1",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := summaries(CheckConfig(s, "aws_", parseTF(t, filepath.Join("testdata", "providerschema", tc.file))))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CheckConfig(%s) (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

// TestReadJSII reads a small assembly written the way CDK for Terraform writes one.
func TestReadJSII(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "providerschema", "tiny.jsii"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadJSII(f)
	if err != nil {
		t.Fatal(err)
	}
	want := &ProviderSchema{
		Version: "5.99.1",
		Resources: map[string]*BlockSchema{"aws_queue": {
			Attributes: map[string]bool{"name": true, "delay_seconds": false},
			Blocks: map[string]*NestedBlockSchema{
				// countAttribute in the bindings, count in Terraform.
				"rule":      {BlockSchema: BlockSchema{Attributes: map[string]bool{"count": true}}},
				"statement": {Required: true, BlockSchema: BlockSchema{Opaque: true}},
			},
		}},
		DataSources: map[string]*BlockSchema{"aws_doc": {Attributes: map[string]bool{"version": false}}},
		Provider:    &BlockSchema{Attributes: map[string]bool{"region": false}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadJSII(tiny.jsii) (-want +got):\n%s", diff)
	}
}
