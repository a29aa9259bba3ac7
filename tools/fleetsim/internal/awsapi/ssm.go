package awsapi

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

func ssmInvalidToken(msg string) error {
	return &sim.APIError{Code: "InvalidNextToken", Message: msg}
}

type ssmFilter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type commandListIn struct {
	CommandID  string      `json:"CommandId"`
	InstanceID string      `json:"InstanceId"`
	Filters    []ssmFilter `json:"Filters"`
	MaxResults int         `json:"MaxResults"`
	NextToken  string      `json:"NextToken"`
	Details    bool        `json:"Details"`
}

func (in commandListIn) filter() sim.CommandFilter {
	f := sim.CommandFilter{CommandID: in.CommandID, InstanceID: in.InstanceID, Filters: map[string]string{}}
	for _, x := range in.Filters {
		f.Filters[x.Key] = x.Value
	}
	return f
}

func ssmValidation(msg string) error { return &sim.APIError{Code: "ValidationException", Message: msg} }

type ssmTag struct{ Key, Value string }

func tagMap(tags []ssmTag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// documentsOnly refuses the tag operations on anything but a document: fleetsim keeps no other
// SSM resource.
func documentsOnly(resourceType string) error {
	if resourceType != "Document" {
		return &sim.APIError{Code: "InvalidResourceType", Message: fmt.Sprintf("fleetsim keeps SSM tags only on documents, not %s", resourceType)}
	}
	return nil
}

func (h *Handler) ssmOps() map[string]op {
	w := h.world
	return map[string]op{
		"CreateDocument": decode(func(_ context.Context, in struct {
			Name, Content, DocumentType, DocumentFormat string
			Tags                                        []ssmTag
		}) (any, error) {
			d, err := w.CreateDocument(in.Name, in.Content, in.DocumentType, in.DocumentFormat)
			if err != nil {
				return nil, err
			}
			if len(in.Tags) > 0 {
				if err := w.TagDocument(in.Name, tagMap(in.Tags), nil); err != nil {
					return nil, err
				}
			}
			return map[string]any{"DocumentDescription": d}, nil
		}),
		"DeleteDocument": decode(func(_ context.Context, in struct{ Name string }) (any, error) {
			return struct{}{}, w.DeleteDocument(in.Name)
		}),
		// Documents are never shared here: the permission list is empty (the Terraform provider
		// reads it for every aws_ssm_document).
		"DescribeDocumentPermission": decode(func(_ context.Context, in struct{ Name, PermissionType string }) (any, error) {
			if in.PermissionType != "Share" {
				return nil, ssmValidation("PermissionType must be Share")
			}
			if _, err := w.DescribeDocument(in.Name); err != nil {
				return nil, err
			}
			return map[string]any{"AccountIds": []string{}, "AccountSharingInfoList": []any{}}, nil
		}),
		"ListTagsForResource": decode(func(_ context.Context, in struct{ ResourceType, ResourceId string }) (any, error) {
			if err := documentsOnly(in.ResourceType); err != nil {
				return nil, err
			}
			tags, err := w.DocumentTags(in.ResourceId)
			if err != nil {
				return nil, err
			}
			list := []ssmTag{}
			for _, k := range slices.Sorted(maps.Keys(tags)) {
				list = append(list, ssmTag{Key: k, Value: tags[k]})
			}
			return map[string]any{"TagList": list}, nil
		}),
		"AddTagsToResource": decode(func(_ context.Context, in struct {
			ResourceType, ResourceId string
			Tags                     []ssmTag
		}) (any, error) {
			if err := documentsOnly(in.ResourceType); err != nil {
				return nil, err
			}
			return struct{}{}, w.TagDocument(in.ResourceId, tagMap(in.Tags), nil)
		}),
		"RemoveTagsFromResource": decode(func(_ context.Context, in struct {
			ResourceType, ResourceId string
			TagKeys                  []string
		}) (any, error) {
			if err := documentsOnly(in.ResourceType); err != nil {
				return nil, err
			}
			return struct{}{}, w.TagDocument(in.ResourceId, nil, in.TagKeys)
		}),
		"DescribeDocument": decode(func(_ context.Context, in struct{ Name string }) (any, error) {
			d, err := w.DescribeDocument(in.Name)
			if err != nil {
				return nil, err
			}
			return map[string]any{"Document": d}, nil
		}),
		"GetDocument": decode(func(_ context.Context, in struct{ Name string }) (any, error) {
			d, content, err := w.GetDocument(in.Name)
			if err != nil {
				return nil, err
			}
			return map[string]any{"Name": d.Name, "Content": content, "DocumentType": d.DocumentType, "DocumentFormat": d.DocumentFormat,
				"DocumentVersion": d.DocumentVersion, "Status": d.Status, "CreatedDate": d.CreatedDate}, nil
		}),
		"SendCommand": decode(func(_ context.Context, in struct {
			DocumentName   string
			InstanceIds    []string
			Targets        []any
			TimeoutSeconds *int
			Comment        string
			Parameters     map[string][]string
		}) (any, error) {
			if len(in.Targets) > 0 {
				return nil, ssmValidation("fleetsim does not simulate Targets; use InstanceIds")
			}
			if len(in.Comment) > 100 {
				return nil, ssmValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100", in.Comment))
			}
			timeout := 0
			if in.TimeoutSeconds != nil {
				timeout = *in.TimeoutSeconds
				if timeout == 0 {
					return nil, ssmValidation("1 validation error detected: Value '0' at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 30")
				}
			}
			c, err := w.SendCommand(sim.SendCommandInput{DocumentName: in.DocumentName, InstanceIDs: in.InstanceIds,
				TimeoutSeconds: timeout, Comment: in.Comment, Parameters: in.Parameters})
			if err != nil {
				return nil, err
			}
			return map[string]any{"Command": c}, nil
		}),
		"GetCommandInvocation": decode(func(_ context.Context, in struct {
			CommandID  string `json:"CommandId"`
			InstanceID string `json:"InstanceId"`
			PluginName string
		}) (any, error) {
			return w.GetCommandInvocation(in.CommandID, in.InstanceID, in.PluginName)
		}),
		"ListCommands": decode(func(_ context.Context, in commandListIn) (any, error) {
			cs, err := w.ListCommands(in.filter())
			if err != nil {
				return nil, err
			}
			cs, next, err := page(cs, in.NextToken, in.MaxResults, 50, 1, 50, ssmInvalidToken)
			if err != nil {
				return nil, err
			}
			return map[string]any{"Commands": cs, "NextToken": next}, nil
		}),
		"ListCommandInvocations": decode(func(_ context.Context, in commandListIn) (any, error) {
			is, err := w.ListCommandInvocations(in.filter(), in.Details)
			if err != nil {
				return nil, err
			}
			is, next, err := page(is, in.NextToken, in.MaxResults, 50, 1, 50, ssmInvalidToken)
			if err != nil {
				return nil, err
			}
			return map[string]any{"CommandInvocations": is, "NextToken": next}, nil
		}),
		"GetParameter": decode(func(_ context.Context, in struct{ Name string }) (any, error) {
			v, ok := w.Parameter(in.Name)
			if !ok {
				return nil, &sim.APIError{Code: "ParameterNotFound", Message: "Parameter " + in.Name + " not found."}
			}
			return map[string]any{"Parameter": map[string]any{
				"Name": in.Name, "Type": "String", "Value": v, "Version": 1, "DataType": "text",
				"ARN": "arn:aws:ssm:" + w.Region() + "::parameter" + in.Name,
			}}, nil
		}),
		"CancelCommand": decode(func(_ context.Context, in struct {
			CommandID   string `json:"CommandId"`
			InstanceIds []string
		}) (any, error) {
			if err := w.CancelCommand(in.CommandID, in.InstanceIds); err != nil {
				return nil, err
			}
			return map[string]any{}, nil
		}),
		"DescribeInstanceInformation": decode(func(_ context.Context, in struct {
			InstanceInformationFilterList []struct {
				Key      string   `json:"key"`
				ValueSet []string `json:"valueSet"`
			}
			Filters []struct {
				Key    string
				Values []string
			}
			MaxResults int
			NextToken  string
		}) (any, error) {
			var ids, ping []string
			for _, f := range in.InstanceInformationFilterList {
				switch f.Key {
				case "InstanceIds":
					ids = append(ids, f.ValueSet...)
				case "PingStatus":
					ping = append(ping, f.ValueSet...)
				}
			}
			for _, f := range in.Filters {
				switch f.Key {
				case "InstanceIds":
					ids = append(ids, f.Values...)
				case "PingStatus":
					ping = append(ping, f.Values...)
				}
			}
			list := w.DescribeInstanceInformation(ids, ping)
			list, next, err := page(list, in.NextToken, in.MaxResults, 50, 5, 50, ssmInvalidToken)
			if err != nil {
				return nil, err
			}
			return map[string]any{"InstanceInformationList": list, "NextToken": next}, nil
		}),
	}
}
