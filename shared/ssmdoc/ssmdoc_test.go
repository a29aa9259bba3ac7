package ssmdoc

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestContentRunsOneApiclientLine(t *testing.T) {
	for _, k := range Kinds {
		var doc struct {
			SchemaVersion string `json:"schemaVersion"`
			MainSteps     []struct {
				Action string `json:"action"`
				Inputs struct {
					RunCommand []string `json:"runCommand"`
				} `json:"inputs"`
			} `json:"mainSteps"`
		}
		if err := json.Unmarshal([]byte(Content(k)), &doc); err != nil {
			t.Fatalf("Content(%s) is not JSON: %v", k, err)
		}
		if doc.SchemaVersion != "2.2" || len(doc.MainSteps) != 1 || doc.MainSteps[0].Action != "aws:runShellScript" {
			t.Fatalf("Content(%s) = %+v, want one aws:runShellScript step of schema 2.2", k, doc)
		}
		if got := doc.MainSteps[0].Inputs.RunCommand; len(got) != 1 || got[0] != Command(k) {
			t.Errorf("Content(%s) runs %q, want [%q]", k, got, Command(k))
		}
	}
}

type fakeSSM struct{ docs map[string]string }

func (f *fakeSSM) CreateDocument(_ context.Context, in *ssm.CreateDocumentInput, _ ...func(*ssm.Options)) (*ssm.CreateDocumentOutput, error) {
	name := aws.ToString(in.Name)
	if _, ok := f.docs[name]; ok {
		return nil, &types.DocumentAlreadyExists{Message: aws.String("exists")}
	}
	f.docs[name] = aws.ToString(in.Content)
	return &ssm.CreateDocumentOutput{}, nil
}

func TestEnsureIsIdempotent(t *testing.T) {
	f := &fakeSSM{docs: map[string]string{}}
	for i := 0; i < 2; i++ {
		if err := Ensure(context.Background(), f, "rw"); err != nil {
			t.Fatalf("Ensure() call %d = %v, want nil", i+1, err)
		}
	}
	if len(f.docs) != len(Kinds) {
		t.Errorf("documents = %d, want %d", len(f.docs), len(Kinds))
	}
	if _, ok := f.docs["rw-update-check"]; !ok {
		t.Errorf("documents = %v, want rw-update-check among them", f.docs)
	}
}
