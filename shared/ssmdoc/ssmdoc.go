// Package ssmdoc defines the SSM Command documents rollwave runs on Bottlerocket hosts. Each runs
// one `apiclient` command in the control container, as the original Bottlerocket ECS Updater's
// documents did. The same documents are registered by the local bootstrap (Ensure) and by the
// Terraform module, so what runs locally is what runs in an account.
package ssmdoc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Kind names what a document does.
type Kind string

// The documents rollwave runs.
const (
	Check  Kind = "update-check"  // apiclient update check: prints the update status JSON
	Apply  Kind = "update-apply"  // apiclient update apply: prepare + activate, no reboot
	Reboot Kind = "reboot"        // apiclient reboot: the host goes down mid-command
	Cancel Kind = "update-cancel" // apiclient update cancel: Ready back to Staged, so no surprise boot
	// Lock is apiclient set updates.version-lock={{ version }}: pins the host to a version, older
	// or newer, before a rollback's or a rollout's apply, or unpins it (Unlocked). SendCommand
	// passes the version as parameter LockParam.
	Lock Kind = "version-lock"
)

// LockParam is the Lock document's parameter: a version such as 1.19.5 or v1.19.5, or Unlocked.
const LockParam = "version"

// Unlocked is the version-lock that follows the update repository: the newest version the host's
// wave has reached.
const Unlocked = "latest"

// Kinds lists every document, in a stable order.
var Kinds = []Kind{Check, Apply, Reboot, Cancel, Lock}

var commands = map[Kind]string{
	Check:  "apiclient update check",
	Apply:  "apiclient update apply",
	Reboot: "apiclient reboot",
	Cancel: "apiclient update cancel",
	Lock:   "apiclient set updates.version-lock={{ " + LockParam + " }}",
}

// Name is the document's name in a deployment with the given prefix, e.g. "rollwave-update-check".
func Name(prefix string, k Kind) string { return prefix + "-" + string(k) }

// Command is the one shell line the document runs.
func Command(k Kind) string { return commands[k] }

// Content is the document's JSON content (schemaVersion 2.2, aws:runShellScript).
func Content(k Kind) string {
	doc := map[string]any{
		"schemaVersion": "2.2",
		"description":   fmt.Sprintf("rollwave: run `%s` on a Bottlerocket host", commands[k]),
		"mainSteps": []any{map[string]any{
			"action":       "aws:runShellScript",
			"name":         string(k),
			"precondition": map[string]any{"StringEquals": []string{"platformType", "Linux"}},
			"inputs":       map[string]any{"timeoutSeconds": "1800", "runCommand": []string{commands[k]}},
		}},
	}
	if k == Lock {
		// SSM substitutes {{ version }} into the shell line; the pattern keeps it a version.
		doc["parameters"] = map[string]any{LockParam: map[string]any{
			"type": "String", "description": "the Bottlerocket version to lock the host to, e.g. 1.19.5, or latest",
			"allowedPattern": `^(latest|v?[0-9]+\.[0-9]+\.[0-9]+)$`,
		}}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // a static map of strings always encodes
	}
	return string(b)
}

type documentAPI interface {
	CreateDocument(ctx context.Context, in *ssm.CreateDocumentInput, optFns ...func(*ssm.Options)) (*ssm.CreateDocumentOutput, error)
}

// Ensure registers every document under prefix; a document that already exists is left alone.
func Ensure(ctx context.Context, api documentAPI, prefix string) error {
	for _, k := range Kinds {
		_, err := api.CreateDocument(ctx, &ssm.CreateDocumentInput{
			Name:           aws.String(Name(prefix, k)),
			Content:        aws.String(Content(k)),
			DocumentType:   types.DocumentTypeCommand,
			DocumentFormat: types.DocumentFormatJson,
		})
		var exists *types.DocumentAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create document %s: %w", Name(prefix, k), err)
		}
	}
	return nil
}
