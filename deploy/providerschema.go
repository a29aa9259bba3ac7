package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ProviderSchema is what a configuration may write in the resources and data sources of one
// Terraform provider: their arguments and nested blocks, and which are required. Computed-only
// attributes are not arguments: a configuration cannot set them.
type ProviderSchema struct {
	// Version is the provider version the schema was generated from ("5.99.1").
	Version     string                  `json:"version"`
	Resources   map[string]*BlockSchema `json:"resources"`
	DataSources map[string]*BlockSchema `json:"dataSources"`
	// Provider is the schema of the provider block itself.
	Provider *BlockSchema `json:"provider"`
}

// BlockSchema is the body of a resource, a data source or a nested block.
type BlockSchema struct {
	// Attributes maps each argument to whether it is required.
	Attributes map[string]bool `json:"attributes"`
	// Blocks maps each nested block type to its schema.
	Blocks map[string]*NestedBlockSchema `json:"blocks,omitempty"`
	// Opaque marks a block whose contents the bindings do not describe (CDK for Terraform stops
	// at a depth in deeply recursive schemas such as aws_wafv2_web_acl's statement): its body is
	// not checked.
	Opaque bool `json:"opaque,omitempty"`
}

// NestedBlockSchema is a nested block type; Required means the block must appear at least once.
type NestedBlockSchema struct {
	Required bool `json:"required,omitempty"`
	// Attribute marks an argument of object type that may also be written as blocks, as the
	// provider's older resources allow (aws_security_group's egress { ... } or egress = [...]):
	// the bindings do not tell them from the newer nested attributes, which accept only = {...}.
	Attribute bool `json:"attribute,omitempty"`
	BlockSchema
}

// The parts of a jsii assembly that ReadJSII reads. CDK for Terraform generates one class per
// resource and data source, whose doc comment links to the provider's documentation page, and
// one struct per configuration body, whose properties link to the argument they stand for.
type jsiiAssembly struct {
	Types map[string]jsiiType `json:"types"`
}

type jsiiType struct {
	Kind        string         `json:"kind"`
	Docs        jsiiDocs       `json:"docs"`
	Initializer *jsiiMethod    `json:"initializer"`
	Properties  []jsiiProperty `json:"properties"`
}

type jsiiDocs struct {
	Summary string `json:"summary"`
	Remarks string `json:"remarks"`
}

type jsiiMethod struct {
	Parameters []struct {
		Name string      `json:"name"`
		Type jsiiTypeRef `json:"type"`
	} `json:"parameters"`
}

type jsiiProperty struct {
	Name     string      `json:"name"`
	Optional bool        `json:"optional"`
	Docs     jsiiDocs    `json:"docs"`
	Type     jsiiTypeRef `json:"type"`
}

type jsiiTypeRef struct {
	FQN        string `json:"fqn"`
	Collection *struct {
		ElementType jsiiTypeRef `json:"elementtype"`
	} `json:"collection"`
	Union *struct {
		Types []jsiiTypeRef `json:"types"`
	} `json:"union"`
}

// structFQN returns the struct a property's type refers to, through lists and unions ("" for a
// primitive or a map of primitives).
func (r jsiiTypeRef) structFQN() string {
	switch {
	case r.FQN != "" && !strings.HasPrefix(r.FQN, "cdktf."):
		return r.FQN
	case r.Collection != nil:
		return r.Collection.ElementType.structFQN()
	case r.Union != nil:
		for _, t := range r.Union.Types {
			if f := t.structFQN(); f != "" {
				return f
			}
		}
	}
	return ""
}

var (
	// "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/5.99.1/docs/resources/sqs_queue aws_sqs_queue}."
	jsiiClassDoc = regexp.MustCompile(`^Represents a \{@link https://registry\.terraform\.io/providers/[^/]+/[^/]+/([^/]+)/docs(?:/(resources|data-sources)/\S+)? (\S+)\}`)
	// "... {@link https://.../docs/resources/sqs_queue#redrive_policy SqsQueue#redrive_policy}"
	jsiiPropertyDoc = regexp.MustCompile(`\{@link https://registry\.terraform\.io/\S+#\S+ \w+#(\w+)\}`)
)

// ReadJSII reads the schema of a Terraform provider from the jsii assembly of its CDK for
// Terraform bindings (the .jsii file of an npm package such as @cdktf/provider-aws). A property
// documented as "<name> block." is a nested block, any other an argument; a property that is not
// optional is required. Each property's Terraform name is the one its documentation links to,
// since the bindings rename some (count becomes countAttribute).
func ReadJSII(r io.Reader) (*ProviderSchema, error) {
	var a jsiiAssembly
	if err := json.NewDecoder(r).Decode(&a); err != nil {
		return nil, fmt.Errorf("decode jsii assembly: %w", err)
	}
	s := &ProviderSchema{Resources: map[string]*BlockSchema{}, DataSources: map[string]*BlockSchema{}}
	var errs []error
	for fqn, t := range a.Types {
		m := jsiiClassDoc.FindStringSubmatch(t.Docs.Summary)
		if t.Kind != "class" || m == nil || t.Initializer == nil {
			continue
		}
		version, kind, name := m[1], m[2], m[3]
		if s.Version == "" {
			s.Version = version
		} else if s.Version != version {
			errs = append(errs, fmt.Errorf("%s documents provider version %s, others %s", fqn, version, s.Version))
		}
		config := ""
		for _, p := range t.Initializer.Parameters {
			if p.Name == "config" {
				config = p.Type.FQN
			}
		}
		if config == "" {
			errs = append(errs, fmt.Errorf("%s has no config parameter", fqn))
			continue
		}
		body, err := a.block(config, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
			continue
		}
		switch kind {
		case "resources":
			s.Resources[name] = body
		case "data-sources":
			s.DataSources[name] = body
		default:
			s.Provider = body
		}
	}
	if len(s.Resources) == 0 {
		errs = append(errs, errors.New("no resource classes in the assembly"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read jsii assembly: %w", err)
	}
	return s, nil
}

// block reads the configuration struct fqn; depth stops a recursive schema.
func (a jsiiAssembly) block(fqn string, depth int) (*BlockSchema, error) {
	if depth > 32 { // a recursive schema: its depth is not checked
		return &BlockSchema{Opaque: true}, nil
	}
	t, ok := a.Types[fqn]
	if !ok {
		return nil, fmt.Errorf("no type %s", fqn)
	}
	b := &BlockSchema{Attributes: map[string]bool{}}
	for _, p := range t.Properties {
		m := jsiiPropertyDoc.FindStringSubmatch(p.Docs.Summary + " " + p.Docs.Remarks)
		if m == nil {
			return nil, fmt.Errorf("%s.%s: no Terraform name in its documentation", fqn, p.Name)
		}
		name := m[1]
		elem := p.Type.structFQN()
		if b.Blocks == nil {
			b.Blocks = map[string]*NestedBlockSchema{}
		}
		if p.Docs.Summary != name+" block." {
			b.Attributes[name] = !p.Optional
			if elem != "" {
				nested, err := a.block(elem, depth+1)
				if err != nil {
					return nil, err
				}
				b.Blocks[name] = &NestedBlockSchema{Attribute: true, BlockSchema: *nested}
			}
			continue
		}
		if elem == "" {
			b.Blocks[name] = &NestedBlockSchema{Required: !p.Optional, BlockSchema: BlockSchema{Opaque: true}}
			continue
		}
		nested, err := a.block(elem, depth+1)
		if err != nil {
			return nil, err
		}
		b.Blocks[name] = &NestedBlockSchema{Required: !p.Optional, BlockSchema: *nested}
	}
	if len(b.Blocks) == 0 {
		b.Blocks = nil
	}
	return b, nil
}

// schemaFormat changes whenever ReadJSII reads an assembly differently, so that a cache written
// by an older ReadJSII is derived again.
const schemaFormat = 2

// CachedProviderSchema reads the schema of the jsii assembly at jsiiPath through a cache at
// cachePath: the schema is derived again only when the cache is missing, was derived from other
// bytes (its file records the assembly's SHA-256) or by another schemaFormat, because decoding
// the assembly (120 MB for the AWS provider) takes seconds and the schema a few milliseconds.
func CachedProviderSchema(jsiiPath, cachePath string) (*ProviderSchema, error) {
	f, err := os.Open(jsiiPath)
	if err != nil {
		return nil, fmt.Errorf("open provider schema source: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hash %s: %w", jsiiPath, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))

	type cached struct {
		Source string          `json:"source"`
		Format int             `json:"format"`
		Schema *ProviderSchema `json:"schema"`
	}
	if b, err := os.ReadFile(cachePath); err == nil {
		var c cached
		if json.Unmarshal(b, &c) == nil && c.Source == sum && c.Format == schemaFormat && c.Schema != nil {
			return c.Schema, nil
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind %s: %w", jsiiPath, err)
	}
	s, err := ReadJSII(f)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cached{Source: sum, Format: schemaFormat, Schema: s})
	if err != nil {
		return nil, fmt.Errorf("encode provider schema: %w", err)
	}
	// Written beside the cache and renamed, so a concurrent reader never sees half a file.
	tmp, err := os.CreateTemp(filepath.Dir(cachePath), filepath.Base(cachePath)+".*")
	if err != nil {
		return nil, fmt.Errorf("cache provider schema: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache provider schema: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache provider schema: %w", err)
	}
	if err := os.Rename(tmp.Name(), cachePath); err != nil {
		return nil, fmt.Errorf("cache provider schema: %w", err)
	}
	return s, nil
}

// Meta-arguments Terraform itself defines, which no provider schema lists.
var (
	resourceMetaAttributes = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}
	resourceMetaBlocks     = map[string]bool{"lifecycle": true, "provisioner": true, "connection": true}
	dataMetaBlocks         = map[string]bool{"lifecycle": true}
	providerMetaAttributes = map[string]bool{"alias": true}
)

// CheckConfig checks the resources, data sources and provider blocks of one parsed Terraform file
// against the provider schema s, for the resource types of s's provider (typePrefix, "aws_"):
// every resource and data source type must exist, every argument and nested block must be one the
// schema defines, written as what it is (an argument as name = value, a block as name { }), and
// every required argument and block must be present. A dynamic block counts as the block it
// generates. It returns one diagnostic per problem, in the order of the file.
func CheckConfig(s *ProviderSchema, typePrefix string, body *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range body.Blocks {
		switch {
		case b.Type == "resource" && len(b.Labels) == 2 && strings.HasPrefix(b.Labels[0], typePrefix):
			schema, ok := s.Resources[b.Labels[0]]
			if !ok {
				diags = append(diags, problem(b.LabelRanges[0], "unknown resource type %s in provider %s", b.Labels[0], s.Version))
				continue
			}
			diags = append(diags, checkBody(schema, b.Body, "resource "+b.Labels[0], resourceMetaAttributes, resourceMetaBlocks)...)
		case b.Type == "data" && len(b.Labels) == 2 && strings.HasPrefix(b.Labels[0], typePrefix):
			schema, ok := s.DataSources[b.Labels[0]]
			if !ok {
				diags = append(diags, problem(b.LabelRanges[0], "unknown data source %s in provider %s", b.Labels[0], s.Version))
				continue
			}
			diags = append(diags, checkBody(schema, b.Body, "data "+b.Labels[0], resourceMetaAttributes, dataMetaBlocks)...)
		case b.Type == "provider" && len(b.Labels) == 1 && b.Labels[0]+"_" == typePrefix && s.Provider != nil:
			diags = append(diags, checkBody(s.Provider, b.Body, "provider "+b.Labels[0], providerMetaAttributes, nil)...)
		}
	}
	return diags
}

func checkBody(s *BlockSchema, body *hclsyntax.Body, where string, metaAttrs, metaBlocks map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if s.Opaque {
		return nil
	}
	for _, name := range sortedAttributeNames(body) {
		a := body.Attributes[name]
		switch _, isAttr := s.Attributes[name]; {
		case isAttr || metaAttrs[name]:
		case s.Blocks[name] != nil && !s.Blocks[name].Attribute:
			diags = append(diags, problem(a.NameRange, "%s: %s is a block: write %s { ... }, not %s = ...", where, name, name, name))
		default:
			diags = append(diags, problem(a.NameRange, "%s: unknown argument %s%s", where, name, suggest(name, s)))
		}
	}
	present := map[string]bool{}
	for _, b := range body.Blocks {
		typ, inner := b.Type, b.Body
		if typ == "dynamic" && len(b.Labels) == 1 {
			typ, inner = b.Labels[0], nil
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					inner = c.Body
				}
			}
			if inner == nil {
				diags = append(diags, problem(b.TypeRange, "%s: dynamic %q has no content block", where, typ))
				continue
			}
		}
		present[typ] = true
		nested, ok := s.Blocks[typ]
		switch {
		case ok:
			diags = append(diags, checkBody(&nested.BlockSchema, inner, where+" > "+typ, nil, nil)...)
		case metaBlocks[typ]:
		default:
			if _, isAttr := s.Attributes[typ]; isAttr {
				diags = append(diags, problem(b.TypeRange, "%s: %s is an argument: write %s = ..., not %s { ... }", where, typ, typ, typ))
			} else {
				diags = append(diags, problem(b.TypeRange, "%s: unknown block %s%s", where, typ, suggest(typ, s)))
			}
		}
	}
	for _, name := range sortedKeys(s.Attributes) {
		if s.Attributes[name] && body.Attributes[name] == nil && !present[name] {
			diags = append(diags, problem(body.SrcRange, "%s: missing required argument %s", where, name))
		}
	}
	for _, name := range sortedKeys(s.Blocks) {
		if s.Blocks[name].Required && !present[name] {
			diags = append(diags, problem(body.SrcRange, "%s: missing required block %s", where, name))
		}
	}
	return diags
}

func sortedAttributeNames(body *hclsyntax.Body) []string {
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return body.Attributes[names[i]].SrcRange.Start.Byte < body.Attributes[names[j]].SrcRange.Start.Byte
	})
	return names
}

// suggest names the schema's argument or block that differs least from name, when it is close.
func suggest(name string, s *BlockSchema) string {
	best, bestDist := "", len(name)/3+1
	for _, cands := range [][]string{sortedKeys(s.Attributes), sortedKeys(s.Blocks)} {
		for _, c := range cands {
			if d := editDistance(name, c); d < bestDist {
				best, bestDist = c, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func problem(r hcl.Range, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: r.Ptr()}
}
