package awsapi

import (
	"context"

	"github.com/rollwave/rollwave/tools/fleetsim/internal/query"
	"github.com/rollwave/rollwave/tools/fleetsim/internal/sim"
)

func ecsInvalid(msg string) error {
	return &sim.APIError{Code: "InvalidParameterException", Message: msg}
}

type listIn struct {
	Cluster    string `json:"cluster"`
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

func (h *Handler) ecsOps() map[string]op {
	w := h.world
	return map[string]op{
		"ListClusters": decode(func(_ context.Context, in listIn) (any, error) {
			arns, next, err := page(w.ListClusters(), in.NextToken, in.MaxResults, 100, 1, 100, ecsInvalid)
			if err != nil {
				return nil, err
			}
			return map[string]any{"clusterArns": arns, "nextToken": next}, nil
		}),
		"DescribeClusters": decode(func(_ context.Context, in struct {
			Clusters []string `json:"clusters"`
			Include  []string `json:"include"`
		}) (any, error) {
			cs, fails := w.DescribeClusters(in.Clusters, has(in.Include, "TAGS"))
			return map[string]any{"clusters": orEmpty(cs), "failures": orEmpty(fails)}, nil
		}),
		"ListContainerInstances": decode(func(_ context.Context, in struct {
			listIn
			Status string `json:"status"`
			Filter string `json:"filter"`
		}) (any, error) {
			var match func(sim.InstanceSubject) bool
			if in.Filter != "" {
				expr, err := query.Parse(in.Filter)
				if err != nil {
					return nil, ecsInvalid("Invalid filter expression: " + err.Error())
				}
				match = func(s sim.InstanceSubject) bool { return expr.Match(s) }
			}
			arns, err := w.ListContainerInstances(in.Cluster, in.Status, match)
			if err != nil {
				return nil, err
			}
			arns, next, err := page(arns, in.NextToken, in.MaxResults, 100, 1, 100, ecsInvalid)
			if err != nil {
				return nil, err
			}
			return map[string]any{"containerInstanceArns": arns, "nextToken": next}, nil
		}),
		"DescribeContainerInstances": decode(func(_ context.Context, in struct {
			Cluster            string   `json:"cluster"`
			ContainerInstances []string `json:"containerInstances"`
			Include            []string `json:"include"`
		}) (any, error) {
			if !has(in.Include, "TAGS") {
				// The views as the world keeps them encoded: a rollout describes the
				// instances of a cluster many times between two changes of each.
				cis, fails, err := w.DescribeContainerInstancesJSON(in.Cluster, in.ContainerInstances)
				if err != nil {
					return nil, err
				}
				return encodedList("containerInstances", cis, "failures", fails)
			}
			cis, fails, err := w.DescribeContainerInstances(in.Cluster, in.ContainerInstances, true)
			if err != nil {
				return nil, err
			}
			return map[string]any{"containerInstances": cis, "failures": fails}, nil
		}),
		"UpdateContainerInstancesState": decode(func(_ context.Context, in struct {
			Cluster            string   `json:"cluster"`
			ContainerInstances []string `json:"containerInstances"`
			Status             string   `json:"status"`
		}) (any, error) {
			cis, fails, err := w.UpdateContainerInstancesState(in.Cluster, in.ContainerInstances, in.Status)
			if err != nil {
				return nil, err
			}
			return map[string]any{"containerInstances": cis, "failures": fails}, nil
		}),
		"PutAttributes": decode(func(_ context.Context, in struct {
			Cluster    string               `json:"cluster"`
			Attributes []sim.AttributeInput `json:"attributes"`
		}) (any, error) {
			as, err := w.PutAttributes(in.Cluster, in.Attributes)
			if err != nil {
				return nil, err
			}
			return map[string]any{"attributes": as}, nil
		}),
		"DeleteAttributes": decode(func(_ context.Context, in struct {
			Cluster    string               `json:"cluster"`
			Attributes []sim.AttributeInput `json:"attributes"`
		}) (any, error) {
			as, err := w.DeleteAttributes(in.Cluster, in.Attributes)
			if err != nil {
				return nil, err
			}
			return map[string]any{"attributes": as}, nil
		}),
		"ListAttributes": decode(func(_ context.Context, in struct {
			listIn
			TargetType     string  `json:"targetType"`
			AttributeName  string  `json:"attributeName"`
			AttributeValue *string `json:"attributeValue"`
		}) (any, error) {
			as, err := w.ListAttributes(in.Cluster, in.TargetType, in.AttributeName, in.AttributeValue)
			if err != nil {
				return nil, err
			}
			as, next, err := page(as, in.NextToken, in.MaxResults, 100, 1, 100, ecsInvalid)
			if err != nil {
				return nil, err
			}
			return map[string]any{"attributes": as, "nextToken": next}, nil
		}),
		"ListTasks": decode(func(_ context.Context, in struct {
			listIn
			ContainerInstance string `json:"containerInstance"`
			Family            string `json:"family"`
			ServiceName       string `json:"serviceName"`
			StartedBy         string `json:"startedBy"`
			DesiredStatus     string `json:"desiredStatus"`
		}) (any, error) {
			arns, err := w.ListTasks(in.Cluster, sim.TaskFilter{ContainerInstance: in.ContainerInstance, Family: in.Family,
				ServiceName: in.ServiceName, StartedBy: in.StartedBy, DesiredStatus: in.DesiredStatus})
			if err != nil {
				return nil, err
			}
			arns, next, err := page(arns, in.NextToken, in.MaxResults, 100, 1, 100, ecsInvalid)
			if err != nil {
				return nil, err
			}
			return map[string]any{"taskArns": arns, "nextToken": next}, nil
		}),
		"DescribeTasks": decode(func(_ context.Context, in struct {
			Cluster string   `json:"cluster"`
			Tasks   []string `json:"tasks"`
		}) (any, error) {
			ts, fails, err := w.DescribeTasks(in.Cluster, in.Tasks)
			if err != nil {
				return nil, err
			}
			return map[string]any{"tasks": ts, "failures": fails}, nil
		}),
		"StopTask": decode(func(_ context.Context, in struct {
			Cluster string `json:"cluster"`
			Task    string `json:"task"`
			Reason  string `json:"reason"`
		}) (any, error) {
			t, err := w.StopTask(in.Cluster, in.Task, in.Reason)
			if err != nil {
				return nil, err
			}
			return map[string]any{"task": t}, nil
		}),
		"ListServices": decode(func(_ context.Context, in listIn) (any, error) {
			arns, err := w.ListServices(in.Cluster)
			if err != nil {
				return nil, err
			}
			arns, next, err := page(arns, in.NextToken, in.MaxResults, 10, 1, 100, ecsInvalid)
			if err != nil {
				return nil, err
			}
			return map[string]any{"serviceArns": arns, "nextToken": next}, nil
		}),
		"DescribeServices": decode(func(_ context.Context, in struct {
			Cluster  string   `json:"cluster"`
			Services []string `json:"services"`
		}) (any, error) {
			ss, fails, err := w.DescribeServices(in.Cluster, in.Services)
			if err != nil {
				return nil, err
			}
			return map[string]any{"services": ss, "failures": fails}, nil
		}),
		"ListTagsForResource": decode(func(_ context.Context, in struct {
			ResourceArn string `json:"resourceArn"`
		}) (any, error) {
			tags, err := w.ListTagsForResource(in.ResourceArn)
			if err != nil {
				return nil, err
			}
			return map[string]any{"tags": tags}, nil
		}),
	}
}

func has(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
