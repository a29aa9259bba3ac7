package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/rollwave/rollwave/shared/cluster"
	"github.com/rollwave/rollwave/shared/history"
	"github.com/rollwave/rollwave/shared/topology"
)

// clients are the AWS clients of one invocation.
type clients struct {
	cfg    aws.Config
	sqs    *sqs.Client
	ecs    *cluster.Client
	ecsAPI *ecs.Client // for ListClusters, which the adapter offers only filtered by tag
	ssm    *ssm.Client
	events *eventbridge.Client
	logs   *cloudwatchlogs.Client

	urls map[string]string // queue name -> URL
}

// aws returns the AWS clients, loading the configuration on first use: the standard chain
// (profile, shared files, SSO, instance roles), with the region, credentials and endpoints that
// getenv names taking precedence, so that run behaves the same in-process (tests) and as a binary.
func (a *app) aws(ctx context.Context) (*clients, error) {
	if a.clients != nil {
		return a.clients, nil
	}
	var opts []func(*config.LoadOptions) error
	profile := a.profile
	if profile == "" {
		profile = a.getenv("AWS_PROFILE")
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	region := firstNonEmpty(a.region, a.getenv("AWS_REGION"), a.getenv("AWS_DEFAULT_REGION"))
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if key := a.getenv("AWS_ACCESS_KEY_ID"); key != "" && a.profile == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			key, a.getenv("AWS_SECRET_ACCESS_KEY"), a.getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, usagef("no AWS region: pass --region or set AWS_REGION")
	}
	endpoint := func(id string) *string {
		if v := firstNonEmpty(a.getenv("AWS_ENDPOINT_URL_"+id), a.getenv("AWS_ENDPOINT_URL")); v != "" {
			return aws.String(v)
		}
		return nil
	}
	c := &clients{cfg: cfg, urls: map[string]string{}}
	c.sqs = sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if e := endpoint("SQS"); e != nil {
			o.BaseEndpoint = e
		}
	})
	c.ecsAPI = ecs.NewFromConfig(cfg, func(o *ecs.Options) {
		if e := endpoint("ECS"); e != nil {
			o.BaseEndpoint = e
		}
	})
	c.ecs = cluster.New(c.ecsAPI)
	c.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		if e := endpoint("SSM"); e != nil {
			o.BaseEndpoint = e
		}
	})
	c.events = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) {
		if e := endpoint("EVENTBRIDGE"); e != nil {
			o.BaseEndpoint = e
		}
	})
	c.logs = cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		if e := endpoint("CLOUDWATCH_LOGS"); e != nil {
			o.BaseEndpoint = e
		}
		o.HTTPClient = history.IntegerTimestamps(o.HTTPClient)
	})
	a.clients = c
	return c, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// topology is the deployment's topology under --prefix.
func (a *app) topology() topology.Topology { return topology.Default(a.prefix) }

// queueURL returns the URL of the queue named name; a queue that does not exist is a
// not-found error that says what to check.
func (a *app) queueURL(ctx context.Context, name string) (string, error) {
	c, err := a.aws(ctx)
	if err != nil {
		return "", err
	}
	if u, ok := c.urls[name]; ok {
		return u, nil
	}
	out, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if isQueueMissing(err) {
		return "", notFoundf("queue %s does not exist in %s: check --prefix (now %q) and --region", name, c.cfg.Region, a.prefix)
	}
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	c.urls[name] = aws.ToString(out.QueueUrl)
	return c.urls[name], nil
}

// requireClusters checks that every cluster exists, before anything is changed.
func (a *app) requireClusters(ctx context.Context, names []string) error {
	c, err := a.aws(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		ok, err := c.ecs.ClusterExists(ctx, n)
		if err != nil {
			return fmt.Errorf("check cluster %s: %w", n, err)
		}
		if !ok {
			return notFoundf("cluster %s not found in %s (or not ACTIVE): check the name and --region", n, c.cfg.Region)
		}
	}
	return nil
}

// isQueueMissing reports whether err says the queue does not exist (the JSON protocol's
// QueueDoesNotExist, or the query protocol's AWS.SimpleQueueService.NonExistentQueue).
func isQueueMissing(err error) bool {
	var missing *sqstypes.QueueDoesNotExist
	if errors.As(err, &missing) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && strings.Contains(api.ErrorCode(), "NonExistentQueue")
}
